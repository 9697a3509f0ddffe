-- One-time keys (store.FirstUse): Slack interactivity replay keys, shared by
-- every process on the store. Rows past expires_at are pruned on use.
CREATE TABLE used_keys (
	key        TEXT PRIMARY KEY,
	expires_at INTEGER NOT NULL -- unix nanoseconds
);
CREATE INDEX used_keys_expires ON used_keys (expires_at);
