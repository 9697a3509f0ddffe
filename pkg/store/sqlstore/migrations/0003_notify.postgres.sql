-- pkg/notify: the audit log is the notification outbox. Each sink keeps the
-- seq of the last event it delivered; a lease keeps one dispatcher per sink
-- running across replicas; a request's Slack message is remembered so it can
-- be updated. (0003: 0002 is body_json.)
CREATE TABLE delivery_cursors (
	sink       TEXT PRIMARY KEY,
	seq        BIGINT NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	expires_at BIGINT NOT NULL -- unix nanoseconds, the holder's clock
);
CREATE TABLE slack_messages (
	request_id TEXT PRIMARY KEY,
	channel    TEXT NOT NULL,
	ts         TEXT NOT NULL
);
