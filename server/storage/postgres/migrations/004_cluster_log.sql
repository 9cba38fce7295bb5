-- Cluster-wide document logs: several nodes append to one document's log.
-- Log rows are numbered by one sequence for the whole database (above every number used so far), and
-- each row carries the key its writer gave it: the writing store (`origin`) and that store's counter
-- (`n`). The same key travels with the update on the Redis stream, so a node that holds an update
-- (delivered over the stream) can name its row, and a retried batch writes each row once.
CREATE SEQUENCE doc_updates_seq AS bigint OWNED BY doc_updates.seq;
SELECT setval('doc_updates_seq', COALESCE((SELECT max(seq) FROM doc_updates), 0) + 1, false);
ALTER TABLE doc_updates ALTER COLUMN seq SET DEFAULT nextval('doc_updates_seq');
ALTER TABLE doc_updates ADD COLUMN origin text COLLATE "C", ADD COLUMN n bigint;
CREATE UNIQUE INDEX doc_updates_by_key ON doc_updates (name, origin, n);

-- The Redis stream position up to which the snapshot holds every update ('' = unknown: none).
ALTER TABLE doc_snapshots ADD COLUMN position text COLLATE "C" NOT NULL DEFAULT '',
  -- The lease fence of the compaction that wrote it (0: written before leases).
  ADD COLUMN fence bigint NOT NULL DEFAULT 0;

-- Compaction leases: one node at a time compacts a document. `fence` grows with every grant; a
-- compaction writes only while the fence it was granted is still the current one.
CREATE TABLE doc_compactions (
  name text COLLATE "C" PRIMARY KEY,
  fence bigint NOT NULL,
  holder text COLLATE "C" NOT NULL,
  until timestamptz NOT NULL
);
