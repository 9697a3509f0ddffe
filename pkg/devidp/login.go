package devidp

import (
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
)

// loginPath is the code flow's sign-in form: /authorize sends the browser
// here (publicClient.LoginURL); a good password marks the auth request done
// and sends the browser back to zitadel's /authorize/callback, which issues
// the code. There is no provider session: every authorization signs in
// afresh, so prompt=login and max_age are always satisfied.
const loginPath = "/login"

// loginUI is the browser half of the authorization code grant.
type loginUI struct {
	store    *deviceStorage
	callback string // issuer + "/authorize/callback"
	logger   *slog.Logger
}

func (ui *loginUI) register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+loginPath, ui.form)
	mux.HandleFunc("POST "+loginPath, ui.login)
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html><html><head><meta charset="utf-8"><title>jit dev sign-in</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}.error{color:#b00}</style>
</head><body><h1>jit dev sign-in</h1><p><em>Development identity provider — never use it for real accounts.</em></p>
{{if .Error}}<p class="error">{{.Error}}</p>{{end}}
{{if .AuthRequestID}}<form method="post" action="/login" id="login"><input type="hidden" name="authRequestID" value="{{.AuthRequestID}}">
<p><label>Username <input name="username" id="username" autocomplete="username" autofocus></label></p>
<p><label>Password <input name="password" id="password" type="password" autocomplete="current-password"></label></p>
<button type="submit" id="sign-in">Sign in</button></form>{{end}}
</body></html>`))

type loginData struct {
	Error         string
	AuthRequestID string
}

func (ui *loginUI) render(w http.ResponseWriter, status int, data loginData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	if err := loginPage.Execute(w, data); err != nil {
		ui.logger.Error("render login page", "error", err)
	}
}

func (ui *loginUI) form(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("authRequestID")
	if _, err := ui.store.AuthRequestByID(r.Context(), id); id == "" || err != nil {
		ui.render(w, http.StatusNotFound, loginData{Error: "unknown or finished sign-in; start again at the application"})
		return
	}
	ui.render(w, http.StatusOK, loginData{AuthRequestID: id})
}

func (ui *loginUI) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		ui.render(w, http.StatusBadRequest, loginData{Error: "bad form"})
		return
	}
	id := r.PostForm.Get("authRequestID")
	if _, err := ui.store.AuthRequestByID(r.Context(), id); id == "" || err != nil {
		ui.render(w, http.StatusNotFound, loginData{Error: "unknown or finished sign-in; start again at the application"})
		return
	}
	username := r.PostForm.Get("username")
	password := r.PostForm.Get("password")
	if password == "" || ui.store.CheckUsernamePassword(username, password, id) != nil {
		ui.logger.Info("code-flow sign-in refused", "username", username)
		ui.render(w, http.StatusUnauthorized, loginData{Error: errBadCredentialsText, AuthRequestID: id})
		return
	}
	ui.logger.Info("code-flow sign-in", "username", username)
	http.Redirect(w, r, ui.callback+"?"+url.Values{"id": {id}}.Encode(), http.StatusFound)
}
