-- Documents (doc-store.ts): per document an optional snapshot and the log of updates written after it.
-- Key columns use the "C" collation: byte order, as LevelDB's keys, and cheaper comparisons.
CREATE TABLE doc_snapshots (
  name text COLLATE "C" PRIMARY KEY,
  snapshot bytea NOT NULL,
  -- The first log sequence number the snapshot does not contain; log rows below it are dead.
  watermark bigint NOT NULL
);

CREATE TABLE doc_updates (
  name text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (name, seq)
);

-- Identity (session-store.ts): each record is kept whole as JSON next to the columns it is looked up by.
-- `json`, not `jsonb`: records are only read whole, and jsonb refuses strings holding U+0000.
CREATE TABLE users (
  id text COLLATE "C" PRIMARY KEY,
  -- Stored as the identity layer normalized it; one account per address.
  email text COLLATE "C" NOT NULL UNIQUE,
  record json NOT NULL
);

CREATE TABLE sessions (
  id text COLLATE "C" PRIMARY KEY,
  user_id text COLLATE "C" NOT NULL,
  ended boolean NOT NULL,
  record json NOT NULL
);
CREATE INDEX sessions_active_by_user ON sessions (user_id, id) WHERE NOT ended;

-- Every refresh-token hash ever issued, so a replayed token finds its session.
CREATE TABLE refresh_hashes (
  hash text COLLATE "C" PRIMARY KEY,
  session_id text COLLATE "C" NOT NULL
);

CREATE TABLE docs (
  id text COLLATE "C" PRIMARY KEY,
  owner_id text COLLATE "C" NOT NULL,
  record json NOT NULL
);

-- Who has a document: its owner (role 'owner') and every member, written with the document.
CREATE TABLE doc_members (
  doc_id text COLLATE "C" NOT NULL REFERENCES docs (id) ON DELETE CASCADE,
  user_id text COLLATE "C" NOT NULL,
  role text NOT NULL,
  PRIMARY KEY (doc_id, user_id)
);
CREATE INDEX doc_members_by_user ON doc_members (user_id, doc_id);
