-- Slack account links (pkg/slacklink): a Slack account (workspace, user) is
-- bound to the IdP principal that redeemed a one-time code from `/jit link`.
-- Only the code's SHA-256 is kept; rows past expires_at are pruned on use.
CREATE TABLE slack_link_codes (
	code_hash   TEXT PRIMARY KEY,
	team_id     TEXT NOT NULL,
	user_id     TEXT NOT NULL,
	slack_email TEXT NOT NULL,
	expires_at  BIGINT NOT NULL -- unix nanoseconds
);
CREATE INDEX slack_link_codes_expires ON slack_link_codes (expires_at);
CREATE TABLE slack_links (
	team_id   TEXT NOT NULL,
	user_id   TEXT NOT NULL,
	issuer    TEXT NOT NULL,
	subject   TEXT NOT NULL,
	user_json TEXT NOT NULL, -- api.User as the linking sign-in verified it
	linked_at BIGINT NOT NULL, -- unix nanoseconds
	PRIMARY KEY (team_id, user_id)
);
CREATE INDEX slack_links_principal ON slack_links (issuer, subject);
