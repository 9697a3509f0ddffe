package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// Slack account links and their one-time codes (pkg/slacklink). Writes go
// through the group committer like every other write, so a link and its
// audit record are one transaction.

// AddSlackLinkCode implements store.Store.
func (s *Store) AddSlackLinkCode(ctx context.Context, c store.SlackLinkCode, now time.Time) error {
	return s.inTx(ctx, func(ctx context.Context, tx Querier) ([]audit.Event, error) {
		if _, err := tx.Exec(ctx, `DELETE FROM slack_link_codes WHERE expires_at <= ?`, now.UnixNano()); err != nil {
			return nil, err
		}
		_, err := tx.Exec(ctx, `INSERT INTO slack_link_codes (code_hash, team_id, user_id, slack_email, expires_at) VALUES (?, ?, ?, ?, ?)`,
			c.Hash, c.TeamID, c.UserID, c.SlackEmail, c.Expires.UnixNano())
		return nil, err
	})
}

// RedeemSlackLinkCode implements store.Store. The code's row is deleted in
// the transaction that reads it, so of two redemptions racing with one
// code exactly one finds it.
func (s *Store) RedeemSlackLinkCode(ctx context.Context, hash string,
	bind func(c store.SlackLinkCode) (store.SlackLink, []audit.Event, error)) error {
	return s.inTx(ctx, func(ctx context.Context, tx Querier) ([]audit.Event, error) {
		c := store.SlackLinkCode{Hash: hash}
		var exp int64
		found, err := queryRow(ctx, tx, `SELECT team_id, user_id, slack_email, expires_at FROM slack_link_codes WHERE code_hash = ?`,
			[]any{hash}, &c.TeamID, &c.UserID, &c.SlackEmail, &exp)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, store.ErrNotFound
		}
		c.Expires = time.Unix(0, exp).UTC()
		n, err := tx.Exec(ctx, `DELETE FROM slack_link_codes WHERE code_hash = ?`, hash)
		if err != nil {
			return nil, err
		}
		if n != 1 {
			return nil, store.ErrNotFound // another redemption took it
		}
		l, events, err := bind(c)
		if err != nil {
			return nil, err
		}
		body, err := json.Marshal(l.User)
		if err != nil {
			return nil, err
		}
		_, err = tx.Exec(ctx, `INSERT INTO slack_links (team_id, user_id, issuer, subject, user_json, linked_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (team_id, user_id) DO UPDATE SET issuer = excluded.issuer, subject = excluded.subject,
			user_json = excluded.user_json, linked_at = excluded.linked_at`,
			l.TeamID, l.UserID, l.User.Issuer, l.User.Subject, string(body), l.LinkedAt.UnixNano())
		return events, err
	})
}

const slackLinkColumns = `team_id, user_id, user_json, linked_at`

func scanSlackLink(rows interface{ Scan(dest ...any) error }) (store.SlackLink, error) {
	var l store.SlackLink
	var body string
	var at int64
	if err := rows.Scan(&l.TeamID, &l.UserID, &body, &at); err != nil {
		return l, err
	}
	l.LinkedAt = time.Unix(0, at).UTC()
	return l, json.Unmarshal([]byte(body), &l.User)
}

// SlackLink implements store.Store.
func (s *Store) SlackLink(ctx context.Context, teamID, userID string) (store.SlackLink, error) {
	ls, err := s.slackLinks(ctx, s.db, `team_id = ? AND user_id = ?`, teamID, userID)
	if err != nil {
		return store.SlackLink{}, err
	}
	if len(ls) == 0 {
		return store.SlackLink{}, store.ErrNotFound
	}
	return ls[0], nil
}

// SlackLinksOf implements store.Store.
func (s *Store) SlackLinksOf(ctx context.Context, issuer, subject string) ([]store.SlackLink, error) {
	return s.slackLinks(ctx, s.db, `issuer = ? AND subject = ?`, issuer, subject)
}

func (s *Store) slackLinks(ctx context.Context, db Querier, where string, a ...any) ([]store.SlackLink, error) {
	rows, err := db.Query(ctx, `SELECT `+slackLinkColumns+` FROM slack_links WHERE `+where+` ORDER BY team_id, user_id`, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.SlackLink
	for rows.Next() {
		l, err := scanSlackLink(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// DeleteSlackLink implements store.Store.
func (s *Store) DeleteSlackLink(ctx context.Context, teamID, userID string, events func(l store.SlackLink) []audit.Event) error {
	return s.inTx(ctx, func(ctx context.Context, tx Querier) ([]audit.Event, error) {
		ls, err := s.slackLinks(ctx, tx, `team_id = ? AND user_id = ?`, teamID, userID)
		if err != nil {
			return nil, err
		}
		if len(ls) == 0 {
			return nil, store.ErrNotFound
		}
		if _, err := tx.Exec(ctx, `DELETE FROM slack_links WHERE team_id = ? AND user_id = ?`, teamID, userID); err != nil {
			return nil, err
		}
		return events(ls[0]), nil
	})
}

var _ store.SlackLinks = (*Store)(nil)
