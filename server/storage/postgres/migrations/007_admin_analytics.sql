-- Analytics (server/analytics/): per-day figures by name, added to atomically by every node.
CREATE TABLE analytics_daily (
  day integer NOT NULL,
  name text COLLATE "C" NOT NULL,
  value bigint NOT NULL,
  PRIMARY KEY (day, name)
);

-- One socket's activity (user, device session, time span, updates sent), kept only within the
-- analytics retention window; found by start (queries) and by end (retention).
CREATE TABLE activity (
  id text COLLATE "C" PRIMARY KEY,
  user_id text COLLATE "C" NOT NULL,
  session_id text COLLATE "C" NOT NULL,
  start_at bigint NOT NULL,
  end_at bigint NOT NULL,
  edits bigint NOT NULL
);
CREATE INDEX activity_by_start ON activity (start_at, id);
CREATE INDEX activity_by_end ON activity (end_at);
