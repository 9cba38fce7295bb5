-- API keys of app backends (server-side document API): the public id, the record holds the secret's hash.
CREATE TABLE api_keys (
  id text COLLATE "C" PRIMARY KEY,
  record json NOT NULL
);
