-- Pairing by code (RFC 8628): a new device's pending request, found by its device code's hash (id), by
-- the user code a person types (unique among stored grants), and by expiry for removal.
CREATE TABLE device_grants (
  id text COLLATE "C" PRIMARY KEY,
  user_code text COLLATE "C" NOT NULL UNIQUE,
  expires_at bigint NOT NULL,
  record json NOT NULL
);
CREATE INDEX device_grants_by_expiry ON device_grants (expires_at, id);

-- Passkeys (WebAuthn credentials): by credential ID, unique across accounts, and by account.
CREATE TABLE passkeys (
  id text COLLATE "C" PRIMARY KEY,
  user_id text COLLATE "C" NOT NULL,
  record json NOT NULL
);
CREATE INDEX passkeys_by_user ON passkeys (user_id, id);
