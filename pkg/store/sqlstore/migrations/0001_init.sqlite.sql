CREATE TABLE requests (
	id            TEXT PRIMARY KEY,
	requester     TEXT NOT NULL,
	role          TEXT NOT NULL,
	state         TEXT NOT NULL,
	created_at    INTEGER NOT NULL, -- unix nanoseconds
	pending_until INTEGER NOT NULL,
	ends_at       INTEGER NOT NULL, -- 0 until approved
	version       INTEGER NOT NULL,
	body          TEXT NOT NULL      -- the api.Request as JSON
);
CREATE INDEX requests_requester ON requests (requester, created_at DESC, id DESC);
CREATE INDEX requests_role_state ON requests (role, state, created_at DESC, id DESC);
CREATE INDEX requests_created ON requests (created_at DESC, id DESC);
CREATE INDEX requests_due_pending ON requests (pending_until) WHERE state = 'pending';
CREATE INDEX requests_due_grant ON requests (ends_at) WHERE state IN ('approved', 'active');

CREATE TABLE audit (
	seq        INTEGER PRIMARY KEY,
	time       INTEGER NOT NULL,
	type       TEXT NOT NULL,
	actor      TEXT NOT NULL,
	subject    TEXT NOT NULL,
	role       TEXT NOT NULL,
	request_id TEXT NOT NULL,
	body       TEXT NOT NULL -- the api.AuditEvent as JSON, hash included
);
CREATE INDEX audit_time ON audit (time);
CREATE INDEX audit_request ON audit (request_id, seq);
CREATE INDEX audit_actor ON audit (actor, seq);
CREATE INDEX audit_subject ON audit (subject, seq);
CREATE INDEX audit_role ON audit (role, seq);
