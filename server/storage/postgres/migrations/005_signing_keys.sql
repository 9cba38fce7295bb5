-- Access-token signing keys (key-store.ts), shared by every node on this database. `jwk` holds the
-- private key: this table is as secret as the keys directory it replaces.
CREATE TABLE signing_keys (
  kid text COLLATE "C" PRIMARY KEY,
  created_at bigint NOT NULL,
  jwk json NOT NULL
);
