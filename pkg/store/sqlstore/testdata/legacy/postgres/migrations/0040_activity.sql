-- Grant activity (docs/concepts.md "Activity"): every access key jit vends is
-- remembered with its grant, so a reported call maps to one grant; each
-- grant keeps one aggregate (store.Aggregate as JSON), never a row per call;
-- event ids seen recently make deliveries idempotent.
CREATE TABLE access_keys (
	access_key_id TEXT PRIMARY KEY,
	request_id    TEXT NOT NULL,
	requester     TEXT NOT NULL,
	role          TEXT NOT NULL,
	vended_at     BIGINT NOT NULL -- unix nanoseconds
);
CREATE INDEX access_keys_request ON access_keys (request_id);
CREATE TABLE activity_seen (
	event_id TEXT PRIMARY KEY,
	seen_at  BIGINT NOT NULL -- the call's time, unix nanoseconds
);
CREATE INDEX activity_seen_at ON activity_seen (seen_at);
CREATE TABLE grant_activity (
	request_id   TEXT PRIMARY KEY,
	window_start BIGINT NOT NULL, -- unix nanoseconds; 0 when nothing is unreported
	body         JSON NOT NULL
);
CREATE INDEX grant_activity_window ON grant_activity (window_start) WHERE window_start > 0;
