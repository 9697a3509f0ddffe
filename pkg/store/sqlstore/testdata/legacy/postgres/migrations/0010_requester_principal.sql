-- A person is (issuer, subject) (docs/security.md): the requester's principal
-- gets indexed columns for "my requests", written with every request. Rows
-- stored before principals existed have none, so the default '' is their
-- backfill: they are matched by their requester name instead (see
-- api.Request.RequestedBy). Not generated from the body: json ->> refuses
-- bodies holding the escape \u0000, which requests may contain.
ALTER TABLE requests
	ADD COLUMN requester_iss TEXT NOT NULL DEFAULT '',
	ADD COLUMN requester_sub TEXT NOT NULL DEFAULT '';
CREATE INDEX requests_principal ON requests (requester_sub, requester_iss, created_at DESC, id DESC);
