// Package awsconfig keeps jit's block of credential_process profiles in the
// AWS shared config file (~/.aws/config or $AWS_CONFIG_FILE) up to date,
// without touching a byte of what the user wrote outside that block.
//
// The block is delimited by two marker comments:
//
//	# BEGIN jit managed profiles — do not edit, run: jit configure aws
//	[profile prod-admin]
//	credential_process = /usr/local/bin/jit credential-process --role prod-admin --server https://jit.example.com
//	region = eu-west-1
//	# END jit managed profiles
//
// Plan computes the new file (pure), Diff shows it for --dry-run, and
// WriteFile replaces the file atomically.
package awsconfig

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
)

// The markers that delimit jit's block. A line is recognised as a marker by
// its prefix (after trimming blanks), so a user who edits the tail of the
// begin line does not orphan the block.
const (
	BeginMarker = "# BEGIN jit managed profiles — do not edit, run: jit configure aws"
	EndMarker   = "# END jit managed profiles"

	beginPrefix = "# BEGIN jit managed profiles"
)

// Profile is one `[profile NAME]` section that runs jit as its
// credential_process.
type Profile struct {
	// Name is the AWS profile name (what --profile takes).
	Name string
	// Role is the jit role passed to `jit credential-process --role`.
	Role string
	// Region, when set, is written as the profile's region.
	Region string
	// Server, when set, is passed as --server so the profile does not depend
	// on the user's default server.
	Server string
	// CredentialProcess is the path of the jit executable the AWS SDKs run
	// (usually os.Executable()); "jit" (found on PATH) when empty.
	CredentialProcess string
	// Direct means CredentialProcess is the slim jit-credential-process
	// binary, run without the `credential-process` subcommand (see Locate).
	Direct bool
}

// Command is the credential_process command line for p.
func (p Profile) Command() string {
	exe := p.CredentialProcess
	if exe == "" {
		exe = "jit"
	}
	cmd := quoteArg(exe) + " credential-process --role " + p.Role
	if p.Direct {
		cmd = quoteArg(exe) + " --role " + p.Role
	}
	if p.Server != "" {
		cmd += " --server " + p.Server
	}
	return cmd
}

// quoteArg quotes s for the shell-like splitting botocore and the AWS SDKs
// apply to credential_process when s holds a blank or a quote.
func quoteArg(s string) string {
	if !strings.ContainsAny(s, " \t\"'\\") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func (p Profile) validate() error {
	if err := checkToken("profile name", p.Name, "[]#;="); err != nil {
		return err
	}
	if err := checkToken("role", p.Role, "\"'\\"); err != nil {
		return fmt.Errorf("profile %s: %w", p.Name, err)
	}
	if p.Region != "" {
		if err := checkToken("region", p.Region, "\"'\\#;"); err != nil {
			return fmt.Errorf("profile %s: %w", p.Name, err)
		}
	}
	if p.Server != "" {
		u, err := url.Parse(p.Server)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("profile %s: server %q is not an http(s) URL", p.Name, p.Server)
		}
		if err := checkToken("server", p.Server, "\"'\\"); err != nil {
			return fmt.Errorf("profile %s: %w", p.Name, err)
		}
	}
	for _, r := range p.CredentialProcess {
		if unicode.IsControl(r) {
			return fmt.Errorf("profile %s: jit path %q holds a control character", p.Name, p.CredentialProcess)
		}
	}
	return nil
}

// checkToken refuses values that would break the INI line they go on or the
// command line botocore splits.
func checkToken(what, v, forbidden string) error {
	if v == "" {
		return fmt.Errorf("%s is empty", what)
	}
	for _, r := range v {
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(forbidden, r) {
			return fmt.Errorf("%s %q holds %q, which the AWS config file cannot carry", what, v, r)
		}
	}
	return nil
}

// Prefixed returns profiles with prefix put before each name, for users whose
// own profiles already use jit's role names.
func Prefixed(prefix string, profiles []Profile) []Profile {
	out := make([]Profile, len(profiles))
	for i, p := range profiles {
		p.Name = prefix + p.Name
		out[i] = p
	}
	return out
}

// ConflictError says a profile jit would write is already defined by the
// user outside jit's block.
type ConflictError struct {
	Name string
	Line int // 1-based line of the user's section header
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("profile %q is already defined on line %d, outside jit's managed block; rename it there or choose a name prefix (jit configure aws --prefix)", e.Name, e.Line)
}

// BlockError says jit's markers are damaged (a begin without an end, two
// blocks …), so jit will not guess which lines are its own.
type BlockError struct {
	Line int
	Msg  string
}

func (e *BlockError) Error() string {
	return fmt.Sprintf("line %d: %s; fix or remove jit's marker comments by hand", e.Line, e.Msg)
}

// line is one line of the file: its content without terminator, and the
// byte offsets of its start and of the byte after its terminator.
type line struct {
	text       string
	start, end int
}

func splitLines(b []byte) []line {
	var lines []line
	for start := 0; start < len(b); {
		i := bytes.IndexByte(b[start:], '\n')
		end := len(b)
		if i >= 0 {
			end = start + i + 1
		}
		text := strings.TrimSuffix(strings.TrimSuffix(string(b[start:end]), "\n"), "\r")
		lines = append(lines, line{text: text, start: start, end: end})
		start = end
	}
	return lines
}

// lineEnding is the terminator of the file's first terminated line, so a
// CRLF file stays CRLF.
func lineEnding(b []byte) string {
	i := bytes.IndexByte(b, '\n')
	if i > 0 && b[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// sectionProfile returns the profile a section header line defines, as
// botocore reads it: `[default]` or `[profile NAME]`.
func sectionProfile(text string) (name string, ok bool) {
	t := strings.TrimSpace(text)
	if !strings.HasPrefix(t, "[") {
		return "", false
	}
	end := strings.IndexByte(t, ']')
	if end < 0 {
		return "", false
	}
	inner := strings.TrimSpace(t[1:end])
	if inner == "default" {
		return "default", true
	}
	rest, found := strings.CutPrefix(inner, "profile")
	if !found || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	if len(rest) >= 2 && (rest[0] == '"' || rest[0] == '\'') && rest[len(rest)-1] == rest[0] {
		rest = rest[1 : len(rest)-1]
	}
	return rest, rest != ""
}

// block locates jit's block: the indices of its begin and end lines, or
// -1, -1 when there is none.
func block(lines []line) (begin, end int, err error) {
	begin, end = -1, -1
	for i, l := range lines {
		t := strings.TrimSpace(l.text)
		switch {
		case strings.HasPrefix(t, beginPrefix):
			if begin >= 0 {
				return 0, 0, &BlockError{Line: i + 1, Msg: fmt.Sprintf("a second jit managed block begins (the first begins on line %d)", begin+1)}
			}
			begin = i
		case t == EndMarker:
			if begin < 0 || end >= 0 {
				return 0, 0, &BlockError{Line: i + 1, Msg: "jit's end marker has no begin marker before it"}
			}
			end = i
		}
	}
	if begin >= 0 && end < 0 {
		return 0, 0, &BlockError{Line: begin + 1, Msg: "jit's managed block has no end marker"}
	}
	return begin, end, nil
}

// render writes the block, without a terminator after the end marker.
func render(profiles []Profile, eol string) string {
	var b strings.Builder
	b.WriteString(BeginMarker + eol)
	for i, p := range profiles {
		if i > 0 {
			b.WriteString(eol)
		}
		b.WriteString("[profile " + p.Name + "]" + eol)
		b.WriteString("credential_process = " + p.Command() + eol)
		if p.Region != "" {
			b.WriteString("region = " + p.Region + eol)
		}
	}
	b.WriteString(EndMarker)
	return b.String()
}

// Plan returns existing with jit's block set to hold exactly profiles
// (sorted by name), and whether that differs from existing. Every byte
// outside the block is kept. Without a block, one is appended; with no
// profiles, the block is removed. A profile already defined outside the
// block is a *ConflictError naming its line; damaged markers are a
// *BlockError.
func Plan(existing []byte, profiles []Profile) (updated []byte, changed bool, err error) {
	sorted := slices.Clone(profiles)
	slices.SortStableFunc(sorted, func(a, b Profile) int { return strings.Compare(a.Name, b.Name) })
	for i, p := range sorted {
		if err := p.validate(); err != nil {
			return nil, false, err
		}
		if i > 0 && sorted[i-1].Name == p.Name {
			return nil, false, fmt.Errorf("profile %q is listed twice", p.Name)
		}
	}

	lines := splitLines(existing)
	begin, end, err := block(lines)
	if err != nil {
		return nil, false, err
	}
	for i, l := range lines {
		if begin >= 0 && i >= begin && i <= end {
			continue
		}
		name, ok := sectionProfile(l.text)
		if !ok {
			continue
		}
		if _, found := slices.BinarySearchFunc(sorted, name, func(p Profile, n string) int { return strings.Compare(p.Name, n) }); found {
			return nil, false, &ConflictError{Name: name, Line: i + 1}
		}
	}

	eol := lineEnding(existing)
	if begin >= 0 {
		// The block keeps its own line ending, so a file with mixed endings
		// does not flip-flop between runs.
		eol = lineEnding(existing[lines[begin].start:])
	}
	var out bytes.Buffer
	switch {
	case begin >= 0 && len(sorted) == 0:
		// Remove the block and its terminator.
		out.Write(existing[:lines[begin].start])
		out.Write(existing[lines[end].end:])
	case begin >= 0:
		// Replace the block's lines; keep the end line's own terminator (or
		// its absence) as it was.
		out.Write(existing[:lines[begin].start])
		out.WriteString(render(sorted, eol))
		endText := existing[lines[end].start:lines[end].end]
		switch {
		case bytes.HasSuffix(endText, []byte("\r\n")):
			out.WriteString("\r\n")
		case bytes.HasSuffix(endText, []byte("\n")):
			out.WriteString("\n")
		}
		out.Write(existing[lines[end].end:])
	case len(sorted) == 0:
		return existing, false, nil
	default:
		out.Write(existing)
		if len(existing) > 0 {
			if existing[len(existing)-1] != '\n' {
				out.WriteString(eol)
			}
			out.WriteString(eol)
		}
		out.WriteString(render(sorted, eol) + eol)
	}
	updated = out.Bytes()
	return updated, !bytes.Equal(updated, existing), nil
}

// DefaultPath is the file the AWS CLI and SDKs read: $AWS_CONFIG_FILE, else
// ~/.aws/config. env is os.Getenv in production.
func DefaultPath(env func(string) string) (string, error) {
	if p := env("AWS_CONFIG_FILE"); p != "" {
		if rest, ok := strings.CutPrefix(p, "~/"); ok {
			home, err := homeDir(env)
			if err != nil {
				return "", err
			}
			return filepath.Join(home, rest), nil
		}
		return p, nil
	}
	home, err := homeDir(env)
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".aws", "config"), nil
}

func homeDir(env func(string) string) (string, error) {
	for _, k := range []string{"HOME", "USERPROFILE"} {
		if h := env(k); h != "" {
			return h, nil
		}
	}
	return "", errors.New("cannot find the AWS config file: neither AWS_CONFIG_FILE nor HOME is set")
}
