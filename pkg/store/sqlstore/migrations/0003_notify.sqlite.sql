-- pkg/notify: the audit log is the notification outbox. Each sink keeps the
-- seq of the last event it delivered; a lease keeps one dispatcher per sink
-- running; a request's Slack message is remembered so it can be updated.
-- (SQLite databases from before one numbering recorded this as 0002;
-- opening one renumbers it, see sqlite.Open.)
CREATE TABLE delivery_cursors (
	sink       TEXT PRIMARY KEY,
	seq        INTEGER NOT NULL,
	updated_at INTEGER NOT NULL -- unix nanoseconds
);
CREATE TABLE leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	expires_at INTEGER NOT NULL -- unix nanoseconds, the holder's clock
);
CREATE TABLE slack_messages (
	request_id TEXT PRIMARY KEY,
	channel    TEXT NOT NULL,
	ts         TEXT NOT NULL
);
