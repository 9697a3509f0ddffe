// Package audit computes and verifies jit's hash-chained audit log. Storage
// of the records is the store's job; this package only defines what a record
// hashes to and how a chain is checked, so every store chains identically.
package audit

// Event types written to the audit log.
const (
	TypeRequestCreated  = "request.created"
	TypeRequestApproval = "request.approval" // one approver's approval (N-of-M may need more)
	TypeRequestApproved = "request.approved" // the grant starts
	TypeAutoApproved    = "request.auto_approved"
	TypeBreakGlass      = "request.break_glass"
	TypeRequestDenied   = "request.denied"
	TypeCancelled       = "request.cancelled"
	TypeTimedOut        = "request.timed_out"
	TypeRevoked         = "grant.revoked"
	TypeExtended        = "grant.extended"
	TypeRevokeEnforced  = "grant.revocation_enforced" // the role's inline Deny was written
	TypeRevokeFailed    = "grant.revocation_failed"
	TypeExpired         = "grant.expired"
	TypeVended          = "credentials.vended"
	TypeVendFailed      = "credentials.vend_failed"
	TypeAuthFailed      = "auth.failed"
	TypeForbidden       = "authz.denied"
	TypePolicyLoaded    = "policy.loaded"
	TypePolicyRejected  = "policy.rejected"
	TypeTLSRejected     = "tls.rejected" // a reload's new certificate failed to load; the old one is served
	// TypeRestartRequired: a reload met changed settings it does not apply
	// (Detail "settings": their keys, comma-separated).
	TypeRestartRequired = "config.restart_required"
	TypeNotifyDelivered = "notify.delivered"
	TypeNotifyFailed    = "notify.failed"
	// TypeCheckpoint records a signed checkpoint of the records before it
	// (Detail: checkpoint, size, root), so webhooks carry checkpoints off
	// the host like any event.
	TypeCheckpoint = "audit.checkpoint"
	// TypeApproverUnresolved: an approver source (the requester's manager)
	// gave no usable answer for a request: down, no manager on record, or
	// the requester named as their own manager. Reason says which; Detail
	// "rule" names the policy key, "manager_source" the source.
	TypeApproverUnresolved = "approver.unresolved"
)

// Event types of Slack account links (pkg/slacklink): a Slack account may
// request only once a sign-in linked it to a principal.
const (
	TypeSlackLinked   = "slack.linked"   // Detail: team_id, slack_user, issuer, subject
	TypeSlackUnlinked = "slack.unlinked" // Detail: team_id, slack_user, issuer, subject
)

// An extension past the limit that let a grant skip approvers (break-glass,
// auto-approve) waits for approvers like a request.
const (
	TypeExtensionRequested = "grant.extension_requested"
	TypeExtensionApproval  = "grant.extension_approval"
	TypeExtensionDenied    = "grant.extension_denied"
)

// Event types of grant activity and review (docs/concepts.md).
const (
	TypeActivity         = "grant.activity"    // one grant's calls in one window, never one per call
	TypeReviewed         = "grant.reviewed"    // a reviewer's verdict (ok or concern)
	TypeActivityRejected = "activity.rejected" // an ingestion call failed authentication
	ReasonIdle           = "idle"              // grant.revoked's detail "cause" when the idle timeout ended it
)

// Event types of a target that creates something when a grant starts (an
// assignment, a login; pkg/target): an IAM role creates nothing and writes
// neither.
const (
	TypeAccessGranted = "grant.access_granted" // Detail: kind, id of what was created
	TypeAccessFailed  = "grant.access_failed"  // the target refused; Reason says why
	// TypeAccessReconciled: a reconcile ended at the target what no live
	// grant owns (a crash, or an end the target missed).
	TypeAccessReconciled = "grant.access_reconciled"
)
