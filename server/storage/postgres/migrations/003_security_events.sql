-- Security events (identity/security-events.ts): ids start with a fixed-width time, so the primary key
-- orders them by time for paging and retention; by user and by kind for queries.
CREATE TABLE security_events (
  id text COLLATE "C" PRIMARY KEY,
  user_id text COLLATE "C",
  kind text COLLATE "C" NOT NULL,
  record json NOT NULL
);
CREATE INDEX security_events_by_user ON security_events (user_id, id) WHERE user_id IS NOT NULL;
CREATE INDEX security_events_by_kind ON security_events (kind, id);
