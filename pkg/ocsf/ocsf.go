// Package ocsf maps jit's audit records to the Open Cybersecurity Schema
// Framework (OCSF 1.8.0), the event format SIEMs (Splunk, Datadog, Elastic,
// Amazon Security Lake) ingest without a custom parser: grants and
// revocations as User Access Management (3005), credential vends and
// failed sign-ins as Authentication (3002), and the request lifecycle,
// policy and the log's own events as Entity Management (3004). The request
// id is metadata.correlation_uid, the requester is user, who acted is
// actor, the role is privileges/resources/service, and the outcome is
// status_id/status/status_detail; the jit record itself, with its hash
// chain, travels in unmapped.jit.
package ocsf

import (
	"strconv"
	"strings"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
)

// Version is the OCSF schema version of every event.
const Version = "1.8.0"

// The OCSF classes jit uses (category 3: Identity & Access Management).
const (
	CategoryIAM          = 3
	ClassAuthentication  = 3002
	ClassEntityManagment = 3004
	ClassUserAccess      = 3005
)

// Status and severity ids (OCSF dictionary).
const (
	StatusSuccess = 1
	StatusFailure = 2

	SeverityInformational = 1
	SeverityLow           = 2
	SeverityMedium        = 3
	SeverityHigh          = 4
)

// Event is one OCSF event.
type Event struct {
	ActivityID   int            `json:"activity_id"`
	ActivityName string         `json:"activity_name"`
	CategoryUID  int            `json:"category_uid"`
	CategoryName string         `json:"category_name"`
	ClassUID     int            `json:"class_uid"`
	ClassName    string         `json:"class_name"`
	TypeUID      int64          `json:"type_uid"`
	SeverityID   int            `json:"severity_id"`
	Severity     string         `json:"severity"`
	StatusID     int            `json:"status_id"`
	Status       string         `json:"status"`
	StatusDetail string         `json:"status_detail,omitempty"`
	Time         int64          `json:"time"` // milliseconds since the epoch
	Message      string         `json:"message"`
	Metadata     Metadata       `json:"metadata"`
	Actor        *Actor         `json:"actor,omitempty"`
	User         *User          `json:"user,omitempty"`
	Privileges   []string       `json:"privileges,omitempty"`
	Resources    []Resource     `json:"resources,omitempty"`
	Service      *Service       `json:"service,omitempty"`
	Entity       *Entity        `json:"entity,omitempty"`
	Comment      string         `json:"comment,omitempty"`
	Unmapped     map[string]any `json:"unmapped,omitempty"`
}

// Metadata is OCSF's metadata object.
type Metadata struct {
	Version        string  `json:"version"`
	Product        Product `json:"product"`
	UID            string  `json:"uid"`                       // the record's sequence number
	CorrelationUID string  `json:"correlation_uid,omitempty"` // the request id
	EventCode      string  `json:"event_code"`                // jit's event type
	LogName        string  `json:"log_name"`
	OriginalTime   string  `json:"original_time"`
}

// Product names jit.
type Product struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version"`
}

// User is OCSF's user object.
type User struct {
	Name   string `json:"name"`
	TypeID int    `json:"type_id"`
	Type   string `json:"type"`
}

// Actor is who acted: a person, or jit itself.
type Actor struct {
	User    *User  `json:"user,omitempty"`
	AppName string `json:"app_name,omitempty"`
}

// Resource is the role a grant gives access to.
type Resource struct {
	Name string `json:"name"`
	UID  string `json:"uid,omitempty"` // the role's ARN when the record has it
	Type string `json:"type"`
}

// Service is the role credentials were issued for.
type Service struct {
	Name string `json:"name"`
	UID  string `json:"uid,omitempty"`
}

// Entity is what an Entity Management event acted on.
type Entity struct {
	Name string `json:"name"`
	UID  string `json:"uid,omitempty"`
	Type string `json:"type"`
	User *User  `json:"user,omitempty"` // the requester
}

// mapping is where one jit event type goes.
type mapping struct {
	class    int
	activity int
	name     string // activity_name
	failure  bool
	severity int
	entity   string // Entity Management: the entity's type
}

var mappings = map[string]mapping{
	audit.TypeRequestCreated:     {ClassEntityManagment, 1, "Create", false, SeverityInformational, "Access Request"},
	audit.TypeRequestApproval:    {ClassEntityManagment, 3, "Approve", false, SeverityInformational, "Access Request"},
	audit.TypeRequestDenied:      {ClassEntityManagment, 3, "Deny", false, SeverityInformational, "Access Request"},
	audit.TypeCancelled:          {ClassEntityManagment, 3, "Cancel", false, SeverityInformational, "Access Request"},
	audit.TypeTimedOut:           {ClassEntityManagment, 3, "Time Out", false, SeverityInformational, "Access Request"},
	audit.TypeExtensionRequested: {ClassEntityManagment, 3, "Request Extension", false, SeverityInformational, "Access Request"},
	audit.TypeExtensionApproval:  {ClassEntityManagment, 3, "Approve Extension", false, SeverityInformational, "Access Request"},
	audit.TypeExtensionDenied:    {ClassEntityManagment, 3, "Deny Extension", false, SeverityInformational, "Access Request"},
	audit.TypeReviewed:           {ClassEntityManagment, 3, "Review", false, SeverityInformational, "Access Request"},
	audit.TypeActivity:           {ClassEntityManagment, 99, "Grant Activity", false, SeverityInformational, "Access Grant"},
	audit.TypeForbidden:          {ClassEntityManagment, 99, "Forbidden", true, SeverityMedium, "Access Request"},
	audit.TypePolicyLoaded:       {ClassEntityManagment, 3, "Load Policy", false, SeverityLow, "Policy"},
	audit.TypePolicyRejected:     {ClassEntityManagment, 3, "Reject Policy", true, SeverityMedium, "Policy"},
	audit.TypeTLSRejected:        {ClassEntityManagment, 3, "Reject Certificate", true, SeverityMedium, "TLS Certificate"},
	audit.TypeRestartRequired:    {ClassEntityManagment, 99, "Restart Required", false, SeverityLow, "Configuration"},
	audit.TypeNotifyDelivered:    {ClassEntityManagment, 99, "Deliver Notification", false, SeverityInformational, "Notification"},
	audit.TypeNotifyFailed:       {ClassEntityManagment, 99, "Deliver Notification", true, SeverityLow, "Notification"},
	audit.TypeCheckpoint:         {ClassEntityManagment, 1, "Sign Checkpoint", false, SeverityInformational, "Audit Checkpoint"},
	audit.TypeSlackLinked:        {ClassEntityManagment, 1, "Create", false, SeverityLow, "Slack Account Link"},
	audit.TypeSlackUnlinked:      {ClassEntityManagment, 4, "Delete", false, SeverityLow, "Slack Account Link"},
	audit.TypeApproverUnresolved: {ClassEntityManagment, 99, "Resolve Approver", true, SeverityMedium, "Access Request"},

	audit.TypeRequestApproved: {ClassUserAccess, 1, "Assign Privileges", false, SeverityLow, ""},
	audit.TypeAutoApproved:    {ClassUserAccess, 1, "Assign Privileges", false, SeverityLow, ""},
	audit.TypeBreakGlass:      {ClassUserAccess, 1, "Assign Privileges", false, SeverityHigh, ""},
	audit.TypeExtended:        {ClassUserAccess, 1, "Assign Privileges", false, SeverityLow, ""},
	audit.TypeRevoked:         {ClassUserAccess, 2, "Revoke Privileges", false, SeverityLow, ""},
	audit.TypeExpired:         {ClassUserAccess, 2, "Revoke Privileges", false, SeverityInformational, ""},
	audit.TypeRevokeEnforced:  {ClassUserAccess, 2, "Revoke Privileges", false, SeverityLow, ""},
	audit.TypeRevokeFailed:    {ClassUserAccess, 2, "Revoke Privileges", true, SeverityHigh, ""},
	// A target's own side of a grant (a directory group's membership).
	audit.TypeAccessGranted:    {ClassUserAccess, 1, "Assign Privileges", false, SeverityLow, ""},
	audit.TypeAccessFailed:     {ClassUserAccess, 1, "Assign Privileges", true, SeverityHigh, ""},
	audit.TypeAccessReconciled: {ClassUserAccess, 2, "Revoke Privileges", false, SeverityMedium, ""},

	// An STS session of the role for the requester: OCSF's "Account
	// Switch" (a user switched to another account).
	audit.TypeVended:           {ClassAuthentication, 7, "Account Switch", false, SeverityInformational, ""},
	audit.TypeVendFailed:       {ClassAuthentication, 7, "Account Switch", true, SeverityMedium, ""},
	audit.TypeAuthFailed:       {ClassAuthentication, 1, "Logon", true, SeverityMedium, ""},
	audit.TypeActivityRejected: {ClassAuthentication, 1, "Logon", true, SeverityMedium, ""},
}

// Mapped reports whether t has its own mapping (others become Entity
// Management events with activity Other).
func Mapped(t string) bool { _, ok := mappings[t]; return ok }

var classNames = map[int]string{
	ClassAuthentication: "Authentication", ClassEntityManagment: "Entity Management", ClassUserAccess: "User Access Management",
}

var severityNames = map[int]string{
	SeverityInformational: "Informational", SeverityLow: "Low", SeverityMedium: "Medium", SeverityHigh: "High",
}

// serverActor is the audit actor jit writes for its own doings.
const serverActor = "server"

// FromAudit maps one audit record to OCSF; productVersion is jit's version.
func FromAudit(e api.AuditEvent, productVersion string) Event {
	m, ok := mappings[e.Type]
	if !ok {
		m = mapping{ClassEntityManagment, 99, e.Type, false, SeverityInformational, "jit Event"}
	}
	ev := Event{
		ActivityID: m.activity, ActivityName: m.name,
		CategoryUID: CategoryIAM, CategoryName: "Identity & Access Management",
		ClassUID: m.class, ClassName: classNames[m.class],
		TypeUID:    int64(m.class)*100 + int64(m.activity),
		SeverityID: m.severity, Severity: severityNames[m.severity],
		StatusID: StatusSuccess, Status: "Success",
		Time:    e.Time.UnixMilli(),
		Message: message(e),
		Metadata: Metadata{Version: Version, Product: Product{Name: "jit", VendorName: "jit", Version: productVersion},
			UID: strconv.FormatInt(e.Seq, 10), CorrelationUID: e.RequestID, EventCode: e.Type,
			LogName: "jit audit log", OriginalTime: e.Time.UTC().Format("2006-01-02T15:04:05.000000000Z07:00")},
		Actor:    actor(e.Actor),
		Unmapped: map[string]any{"jit": e},
	}
	if m.failure {
		ev.StatusID, ev.Status = StatusFailure, "Failure"
		ev.StatusDetail = e.Reason
	}
	roleARN := e.Detail["role_arn"]
	switch m.class {
	case ClassUserAccess:
		ev.User = person(subjectOr(e))
		ev.Privileges = []string{e.Role}
		ev.Resources = []Resource{{Name: e.Role, UID: roleARN, Type: "AWS IAM Role"}}
	case ClassAuthentication:
		ev.User = person(subjectOr(e))
		if e.Role != "" {
			ev.Service = &Service{Name: e.Role, UID: roleARN}
		}
	default:
		// Entity Management has no user: the requester is the entity's.
		ev.Entity = entity(e, m.entity)
		if e.Subject != "" {
			ev.Entity.User = person(e.Subject)
		}
		if !m.failure {
			ev.Comment = e.Reason
		}
	}
	return ev
}

func message(e api.AuditEvent) string {
	parts := []string{"jit " + e.Type}
	if e.RequestID != "" {
		parts = append(parts, e.RequestID)
	}
	if e.Subject != "" {
		parts = append(parts, "for "+e.Subject)
	}
	if e.Role != "" {
		parts = append(parts, "role "+e.Role)
	}
	if e.Actor != "" && e.Actor != e.Subject {
		parts = append(parts, "by "+e.Actor)
	}
	if e.Reason != "" {
		parts = append(parts, "("+e.Reason+")")
	}
	return strings.Join(parts, " ")
}

// subjectOr is who the event concerns: the subject, else whoever acted,
// else "unknown" (OCSF's user needs a name).
func subjectOr(e api.AuditEvent) string {
	switch {
	case e.Subject != "":
		return e.Subject
	case e.Actor != "" && e.Actor != serverActor:
		return e.Actor
	}
	return "unknown"
}

func person(name string) *User { return &User{Name: name, TypeID: 1, Type: "User"} }

func actor(a string) *Actor {
	switch a {
	case "":
		return nil
	case serverActor:
		return &Actor{AppName: "jit server"}
	}
	return &Actor{User: person(a)}
}

func entity(e api.AuditEvent, typ string) *Entity {
	switch {
	case e.RequestID != "":
		return &Entity{Name: e.RequestID, UID: e.RequestID, Type: typ}
	case e.Type == audit.TypeCheckpoint && e.Detail["size"] != "":
		return &Entity{Name: "checkpoint " + e.Detail["size"], Type: typ}
	case e.Role != "":
		return &Entity{Name: e.Role, Type: typ}
	}
	return &Entity{Name: typ, Type: typ}
}
