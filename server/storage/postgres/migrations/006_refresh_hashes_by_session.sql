-- Account deletion (SessionStore.deleteAccount) removes every refresh-token hash of the account's
-- sessions: found by session, not by reading the whole table.
CREATE INDEX refresh_hashes_by_session ON refresh_hashes (session_id);
