package devidp

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

const (
	devicePath        = "/device"
	deviceLoginPath   = "/device/login"
	deviceConfirmPath = "/device/confirm"
	sessionCookie     = "devidp_device_session"
	maxFormBytes      = 16 << 10
)

// errBadCredentialsText is what the sign-in page says for a wrong username
// or password; CompleteDevice maps it to ErrBadCredentials.
const errBadCredentialsText = "wrong username or password"

// deviceUI is the browser half of the device grant: enter the code, sign in
// (with one-click demo users), allow or deny.
type deviceUI struct {
	store  *deviceStorage
	users  []User
	logger *slog.Logger

	mu       sync.Mutex
	sessions map[string]deviceSession // by cookie value
}

type deviceSession struct {
	userCode string
	userID   string
	username string
}

func (ui *deviceUI) register(mux *http.ServeMux) {
	ui.sessions = map[string]deviceSession{}
	mux.HandleFunc("GET "+devicePath, ui.codePage)
	mux.HandleFunc("POST "+deviceLoginPath, ui.login)
	mux.HandleFunc("POST "+deviceConfirmPath, ui.confirm)
}

var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html><html><head><meta charset="utf-8"><title>jit dev sign-in</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}.error{color:#b00}td,th{padding:.2em .6em;text-align:left}</style>
</head><body><h1>jit dev sign-in</h1><p><em>Development identity provider — never use it for real accounts.</em></p>
{{if .Error}}<p class="error">{{.Error}}</p>{{end}}{{end}}
{{define "foot"}}</body></html>{{end}}

{{define "code"}}{{template "head" .}}
<form method="get" action="/device"><label>Code shown on your device: <input name="user_code" autofocus></label>
<button type="submit">Continue</button></form>{{template "foot"}}{{end}}

{{define "login"}}{{template "head" .}}
<p>Code: <strong>{{.UserCode}}</strong></p>
<form method="post" action="/device/login"><input type="hidden" name="user_code" value="{{.UserCode}}">
<p><label>Username <input name="username" autocomplete="username"></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password"></label></p>
<button type="submit">Sign in</button></form>
<h2>Demo users</h2><table><tr><th>User</th><th>Password</th><th>Groups</th><th></th></tr>
{{range .Users}}<tr><td>{{.Username}} ({{.Name}})</td><td><code>{{.Password}}</code></td><td>{{range $i, $g := .Groups}}{{if $i}}, {{end}}{{$g}}{{end}}</td>
<td><form method="post" action="/device/login"><input type="hidden" name="user_code" value="{{$.UserCode}}">
<input type="hidden" name="username" value="{{.Username}}"><input type="hidden" name="password" value="{{.Password}}">
<button type="submit">Sign in as {{.Username}}</button></form></td></tr>{{end}}</table>{{template "foot"}}{{end}}

{{define "confirm"}}{{template "head" .}}
<p>Signed in as <strong>{{.Username}}</strong>. Allow <strong>{{.ClientID}}</strong> to act for you
(scopes: {{range $i, $s := .Scopes}}{{if $i}}, {{end}}{{$s}}{{end}})?</p>
<form method="post" action="/device/confirm"><button name="action" value="allowed">Allow</button>
<button name="action" value="denied">Deny</button></form>{{template "foot"}}{{end}}

{{define "done"}}{{template "head" .}}<p id="result">Device authorization {{.Action}}. You can return to your terminal.</p>{{template "foot"}}{{end}}
`))

type pageData struct {
	Error    string
	UserCode string
	Users    []User
	Username string
	ClientID string
	Scopes   []string
	Action   string
}

func (ui *deviceUI) render(w http.ResponseWriter, status int, name string, data pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		ui.logger.Error("render device page", "page", name, "error", err)
	}
}

func (ui *deviceUI) codePage(w http.ResponseWriter, r *http.Request) {
	userCode := strings.TrimSpace(r.URL.Query().Get("user_code"))
	if userCode == "" {
		ui.render(w, http.StatusOK, "code", pageData{})
		return
	}
	if _, err := ui.store.deviceState(r.Context(), userCode); err != nil {
		ui.render(w, http.StatusNotFound, "code", pageData{Error: "unknown code " + userCode})
		return
	}
	ui.render(w, http.StatusOK, "login", pageData{UserCode: userCode, Users: ui.users})
}

func (ui *deviceUI) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		ui.render(w, http.StatusBadRequest, "code", pageData{Error: "bad form"})
		return
	}
	userCode := strings.TrimSpace(r.PostForm.Get("user_code"))
	state, err := ui.store.deviceState(r.Context(), userCode)
	if err != nil {
		ui.render(w, http.StatusNotFound, "code", pageData{Error: "unknown code " + userCode})
		return
	}
	username := r.PostForm.Get("username")
	user, ok := ui.check(username, r.PostForm.Get("password"))
	if !ok {
		ui.logger.Info("device sign-in refused", "username", username)
		ui.render(w, http.StatusUnauthorized, "login", pageData{Error: errBadCredentialsText, UserCode: userCode, Users: ui.users})
		return
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	sid := hex.EncodeToString(b[:])
	ui.mu.Lock()
	ui.sessions[sid] = deviceSession{userCode: userCode, userID: user.ID, username: user.Username}
	ui.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: sid, Path: devicePath, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	ui.render(w, http.StatusOK, "confirm", pageData{Username: user.Username, ClientID: state.ClientID, Scopes: state.Scopes})
}

// check compares the password; a dev provider need not be constant-time,
// but it costs nothing.
func (ui *deviceUI) check(username, password string) (User, bool) {
	for _, u := range ui.users {
		if u.Username == username {
			return u, password != "" && subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) == 1
		}
	}
	return User{}, false
}

func (ui *deviceUI) confirm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	cookie, err := r.Cookie(sessionCookie)
	if err != nil {
		ui.render(w, http.StatusBadRequest, "code", pageData{Error: "no sign-in session; sign in again"})
		return
	}
	ui.mu.Lock()
	session, ok := ui.sessions[cookie.Value]
	delete(ui.sessions, cookie.Value)
	ui.mu.Unlock()
	if !ok {
		ui.render(w, http.StatusBadRequest, "code", pageData{Error: "sign-in session expired; sign in again"})
		return
	}
	if err := r.ParseForm(); err != nil {
		ui.render(w, http.StatusBadRequest, "code", pageData{Error: "bad form"})
		return
	}
	action := r.PostForm.Get("action")
	if action != "allowed" && action != "denied" {
		ui.render(w, http.StatusBadRequest, "code", pageData{Error: `action must be "allowed" or "denied"`})
		return
	}
	err = ui.store.decideDevice(r.Context(), session.userCode, session.userID, action == "allowed", time.Now())
	switch {
	case errors.Is(err, errDeviceDecided), errors.Is(err, errDeviceExpired):
		ui.render(w, http.StatusConflict, "code", pageData{Error: err.Error()})
		return
	case err != nil:
		ui.render(w, http.StatusNotFound, "code", pageData{Error: "unknown code " + session.userCode})
		return
	}
	ui.logger.Info("device authorization decided", "username", session.username, "action", action)
	ui.render(w, http.StatusOK, "done", pageData{Action: action})
}
