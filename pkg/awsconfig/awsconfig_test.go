package awsconfig

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var (
	prodAdmin = Profile{Name: "prod-admin", Role: "prod-admin", Region: "eu-west-1", Server: "https://jit.example.com", CredentialProcess: "/usr/local/bin/jit"}
	devRO     = Profile{Name: "dev-ro", Role: "dev-readonly", CredentialProcess: "/usr/local/bin/jit"}
)

const twoProfilesBlock = BeginMarker + `
[profile dev-ro]
credential_process = /usr/local/bin/jit credential-process --role dev-readonly

[profile prod-admin]
credential_process = /usr/local/bin/jit credential-process --role prod-admin --server https://jit.example.com
region = eu-west-1
` + EndMarker

func TestPlan(t *testing.T) {
	tests := []struct {
		name     string
		existing string
		profiles []Profile
		want     string
		changed  bool
	}{
		{
			name:     "empty file gets the block",
			existing: "",
			profiles: []Profile{prodAdmin, devRO},
			want:     twoProfilesBlock + "\n",
			changed:  true,
		},
		{
			name: "user's comments, profiles and sso-session kept, block appended",
			existing: `# my config
[default]
region = us-east-1 ; trailing comment

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1

[profile mine]
sso_session = corp
`,
			profiles: []Profile{prodAdmin, devRO},
			want: `# my config
[default]
region = us-east-1 ; trailing comment

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1

[profile mine]
sso_session = corp

` + twoProfilesBlock + "\n",
			changed: true,
		},
		{
			name:     "no trailing newline: the last line is kept and terminated",
			existing: "[profile mine]\nregion = us-east-1",
			profiles: []Profile{devRO},
			want: "[profile mine]\nregion = us-east-1\n\n" + BeginMarker + "\n[profile dev-ro]\n" +
				"credential_process = /usr/local/bin/jit credential-process --role dev-readonly\n" + EndMarker + "\n",
			changed: true,
		},
		{
			name:     "CRLF file stays CRLF",
			existing: "[profile mine]\r\nregion = us-east-1\r\n",
			profiles: []Profile{devRO},
			want: "[profile mine]\r\nregion = us-east-1\r\n\r\n" + BeginMarker + "\r\n[profile dev-ro]\r\n" +
				"credential_process = /usr/local/bin/jit credential-process --role dev-readonly\r\n" + EndMarker + "\r\n",
			changed: true,
		},
		{
			name:     "marker-only block is filled in place",
			existing: "[a]\nx = 1\n" + BeginMarker + "\n" + EndMarker + "\n[profile after]\ny = 2\n",
			profiles: []Profile{prodAdmin, devRO},
			want:     "[a]\nx = 1\n" + twoProfilesBlock + "\n[profile after]\ny = 2\n",
			changed:  true,
		},
		{
			name:     "block replaced in the middle, surrounding bytes kept",
			existing: "# top\n\n" + twoProfilesBlock + "\n\n# bottom, no newline",
			profiles: []Profile{devRO},
			want: "# top\n\n" + BeginMarker + "\n[profile dev-ro]\n" +
				"credential_process = /usr/local/bin/jit credential-process --role dev-readonly\n" + EndMarker +
				"\n\n# bottom, no newline",
			changed: true,
		},
		{
			name:     "block at end of file without a newline keeps that",
			existing: "[a]\n" + BeginMarker + "\n" + EndMarker,
			profiles: []Profile{devRO},
			want: "[a]\n" + BeginMarker + "\n[profile dev-ro]\n" +
				"credential_process = /usr/local/bin/jit credential-process --role dev-readonly\n" + EndMarker,
			changed: true,
		},
		{
			name:     "hand edits inside the block are overwritten",
			existing: "[a]\n" + BeginMarker + "\n[profile dev-ro]\nregion = mars-1\n" + EndMarker + "\n",
			profiles: []Profile{devRO},
			want: "[a]\n" + BeginMarker + "\n[profile dev-ro]\n" +
				"credential_process = /usr/local/bin/jit credential-process --role dev-readonly\n" + EndMarker + "\n",
			changed: true,
		},
		{
			name:     "up to date: unchanged",
			existing: "[default]\nregion = us-east-1\n\n" + twoProfilesBlock + "\n",
			profiles: []Profile{devRO, prodAdmin},
			want:     "[default]\nregion = us-east-1\n\n" + twoProfilesBlock + "\n",
			changed:  false,
		},
		{
			name:     "no profiles removes the block",
			existing: "[default]\nregion = us-east-1\n" + twoProfilesBlock + "\n# after\n",
			profiles: nil,
			want:     "[default]\nregion = us-east-1\n# after\n",
			changed:  true,
		},
		{
			name:     "no profiles and no block: untouched",
			existing: "[default]\n",
			profiles: nil,
			want:     "[default]\n",
			changed:  false,
		},
		{
			name:     "a begin marker whose tail the user edited is still jit's",
			existing: "# BEGIN jit managed profiles (edited)\n" + EndMarker + "\n",
			profiles: []Profile{devRO},
			want: BeginMarker + "\n[profile dev-ro]\n" +
				"credential_process = /usr/local/bin/jit credential-process --role dev-readonly\n" + EndMarker + "\n",
			changed: true,
		},
		{
			name:     "prefixed names avoid the user's own profile",
			existing: "[profile dev-ro]\nregion = us-east-1\n",
			profiles: Prefixed("jit-", []Profile{devRO}),
			want: "[profile dev-ro]\nregion = us-east-1\n\n" + BeginMarker + "\n[profile jit-dev-ro]\n" +
				"credential_process = /usr/local/bin/jit credential-process --role dev-readonly\n" + EndMarker + "\n",
			changed: true,
		},
		{
			name:     "jit on PATH and a path with blanks are quoted for botocore",
			existing: "",
			profiles: []Profile{{Name: "a", Role: "r"}, {Name: "b", Role: "r", CredentialProcess: `C:\Program Files\jit\jit.exe`}},
			want: BeginMarker + "\n[profile a]\ncredential_process = jit credential-process --role r\n\n" +
				"[profile b]\ncredential_process = \"C:\\\\Program Files\\\\jit\\\\jit.exe\" credential-process --role r\n" + EndMarker + "\n",
			changed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed, err := Plan([]byte(tt.existing), tt.profiles)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Plan =\n%q\nwant\n%q\ndiff:\n%s", got, tt.want, Diff([]byte(tt.want), got))
			}
			if changed != tt.changed {
				t.Errorf("changed = %v, want %v", changed, tt.changed)
			}
			again, changed, err := Plan(got, tt.profiles)
			if err != nil {
				t.Fatalf("second Plan: %v", err)
			}
			if changed || !bytes.Equal(again, got) {
				t.Errorf("second Plan changed the file:\n%s", Diff(got, again))
			}
		})
	}
}

func TestPlanRefusesToClobberUserProfile(t *testing.T) {
	existing := "# mine\n[default]\nregion = us-east-1\n\n[profile  dev-ro ]\nregion = eu-west-1\n"
	_, _, err := Plan([]byte(existing), []Profile{prodAdmin, devRO})
	var conflict *ConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("err = %v, want *ConflictError", err)
	}
	if conflict.Name != "dev-ro" || conflict.Line != 5 {
		t.Errorf("conflict = %+v, want dev-ro on line 5", conflict)
	}
	if !strings.Contains(err.Error(), "line 5") || !strings.Contains(err.Error(), "--prefix") {
		t.Errorf("message %q should name the line and the way out", err)
	}

	_, _, err = Plan([]byte(existing), []Profile{{Name: "default", Role: "x"}})
	if !errors.As(err, &conflict) || conflict.Line != 2 {
		t.Errorf("a profile named default must conflict with [default] on line 2, got %v", err)
	}
}

func TestPlanDamagedMarkers(t *testing.T) {
	for name, existing := range map[string]string{
		"begin without end": "[a]\n" + BeginMarker + "\n[profile x]\n",
		"end without begin": "[a]\n" + EndMarker + "\n",
		"two blocks":        BeginMarker + "\n" + EndMarker + "\n" + BeginMarker + "\n" + EndMarker + "\n",
		"end twice":         BeginMarker + "\n" + EndMarker + "\n" + EndMarker + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := Plan([]byte(existing), []Profile{devRO})
			var be *BlockError
			if !errors.As(err, &be) {
				t.Fatalf("err = %v, want *BlockError", err)
			}
			if be.Line < 1 || !strings.HasPrefix(err.Error(), "line ") {
				t.Errorf("error %q should name a line", err)
			}
		})
	}
}

func TestPlanRejectsBadProfiles(t *testing.T) {
	for name, ps := range map[string][]Profile{
		"empty name":          {{Role: "r"}},
		"name with blank":     {{Name: "a b", Role: "r"}},
		"name with bracket":   {{Name: "a]", Role: "r"}},
		"newline in role":     {{Name: "a", Role: "r\n[profile evil]"}},
		"empty role":          {{Name: "a"}},
		"server not http":     {{Name: "a", Role: "r", Server: "file:///etc/passwd"}},
		"region with blank":   {{Name: "a", Role: "r", Region: "eu west"}},
		"duplicate names":     {{Name: "a", Role: "r"}, {Name: "a", Role: "s"}},
		"control char in exe": {{Name: "a", Role: "r", CredentialProcess: "/bin/jit\n"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := Plan(nil, ps); err == nil {
				t.Errorf("Plan accepted %+v", ps)
			}
		})
	}
}

func TestDefaultPath(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HOME": "/home/a"}, "/home/a/.aws/config"},
		{map[string]string{"HOME": "/home/a", "AWS_CONFIG_FILE": "/etc/aws"}, "/etc/aws"},
		{map[string]string{"HOME": "/home/a", "AWS_CONFIG_FILE": "~/cfg"}, "/home/a/cfg"},
	}
	for _, tt := range tests {
		got, err := DefaultPath(env(tt.env))
		if err != nil || got != tt.want {
			t.Errorf("DefaultPath(%v) = %q, %v; want %q", tt.env, got, err, tt.want)
		}
	}
	if _, err := DefaultPath(env(nil)); err == nil {
		t.Error("DefaultPath with no HOME should fail")
	}
}

func FuzzPlan(f *testing.F) {
	f.Add([]byte(""), "dev", "role", false)
	f.Add([]byte("[default]\nregion = x\n"), "default", "role", true)
	f.Add([]byte("[profile a]\r\nx=1\r\n"+BeginMarker+"\r\n"+EndMarker), "a", "r", false)
	f.Add([]byte("# c\n[sso-session s]\n"+twoProfilesBlock), "dev-ro", "r", true)
	f.Add([]byte("[profile \"q\"]\n\n\n"), "q", "r", false)
	f.Fuzz(func(t *testing.T, existing []byte, name, role string, withServer bool) {
		p := Profile{Name: name, Role: role, CredentialProcess: "/opt/jit bin/jit"}
		if withServer {
			p.Server = "https://jit.example.com:8443"
		}
		for _, ps := range [][]Profile{{p}, nil} {
			got, changed, err := Plan(existing, ps)
			if err != nil {
				continue
			}
			if changed == bytes.Equal(got, existing) {
				t.Fatalf("changed = %v but equal = %v", changed, bytes.Equal(got, existing))
			}
			again, changed2, err := Plan(got, ps)
			if err != nil {
				t.Fatalf("Plan of its own output failed: %v\n%q", err, got)
			}
			if changed2 || !bytes.Equal(again, got) {
				t.Fatalf("not idempotent:\n%q\n%q", got, again)
			}
			// Whatever preceded an existing block, or the whole file when
			// there was none, is kept byte for byte.
			keep := existing
			if i := bytes.Index(existing, []byte(beginPrefix)); i >= 0 {
				keep = existing[:bytes.LastIndexByte(existing[:i], '\n')+1]
			}
			if !bytes.HasPrefix(got, keep) {
				t.Fatalf("bytes before the block changed:\n%q\n%q", existing, got)
			}
		}
	})
}
