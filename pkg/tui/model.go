package tui

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/list"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/jit-access/jit/pkg/api"
)

// ActionKind is what the user chose to do with a live grant; the caller
// runs it once the picker has left the screen.
type ActionKind string

// The actions on a live grant.
const (
	ActionNone    ActionKind = ""
	ActionExec    ActionKind = "exec"    // a shell with the credentials (jit exec ROLE)
	ActionExports ActionKind = "exports" // print export statements (jit assume ROLE)
	ActionConsole ActionKind = "console" // open the AWS console (jit console ROLE)
	ActionProfile ActionKind = "profile" // write the AWS profiles (jit configure aws)
)

// Result is what the picker hands back when it ends.
type Result struct {
	Action ActionKind
	Role   string
	// PendingID is a request the user left while waiting for its decision.
	PendingID string
}

// Options configure the picker.
type Options struct {
	Backend  Backend
	Now      func() time.Time
	Renderer *lipgloss.Renderer
	// MRU remembers recently used roles (nil: none).
	MRU *MRU
	// Tick is the countdown's refresh period [1s]; tests may slow it.
	Tick time.Duration
}

type screen int

const (
	screenRoles screen = iota
	screenActions
	screenForm
	screenWaiting
	screenResult
	screenReview
	screenDecide
)

type (
	loadedMsg struct {
		roles []api.Role
		mine  []api.Request
		err   error
	}
	reviewMsg struct {
		reqs []api.Request
		err  error
	}
	createdMsg struct {
		req *api.Request
		err error
	}
	changedMsg struct {
		gen int
		id  string
		req *api.Request
		err error
	}
	credsMsg struct {
		role string
		err  error
	}
	// grantMsg is one long-poll on a grant whose credentials are cached.
	grantMsg struct {
		req *api.Request
		err error
	}
	decidedMsg struct {
		approve bool
		req     *api.Request
		err     error
	}
	tickMsg struct{}
)

var actions = []struct {
	kind  ActionKind
	key   string
	label string
}{
	{ActionExec, "e", "Exec a shell with the role's credentials"},
	{ActionExports, "x", "Print export statements (eval in your shell)"},
	{ActionConsole, "c", "Open the AWS console signed in as the role"},
	{ActionProfile, "w", "Write the AWS profiles (aws --profile ROLE)"},
}

// Model is the picker's bubbletea model. Build it with New.
type Model struct {
	ctx  context.Context
	be   Backend
	now  func() time.Time
	mru  *MRU
	st   styles
	tick time.Duration

	width, height int
	screen        screen
	loading       bool
	reviewLoaded  bool

	roles   list.Model
	review  list.Model
	help    help.Model
	recent  []string
	allRole []api.Role
	mine    []api.Request

	// the role an action or form is about
	current roleItem
	action  int

	// request form
	inputs     []textinput.Model
	breakGlass bool
	focus      int
	formErr    string

	// waiting and result
	req      *api.Request
	waitGen  int // the live long-poll's generation; older answers are dropped
	waitErr  error
	creds    bool
	credsErr error

	// approver decision
	deciding   *api.Request
	approve    bool
	comment    textinput.Model
	decideNote string

	err    error // the last error, shown with its next step
	notice string
	result Result
}

var _ tea.Model = (*Model)(nil)

// New builds the picker. ctx bounds every call it makes.
func New(ctx context.Context, opts Options) *Model {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Renderer == nil {
		opts.Renderer = lipgloss.DefaultRenderer()
	}
	if opts.Tick <= 0 {
		opts.Tick = time.Second
	}
	m := &Model{ctx: ctx, be: opts.Backend, now: opts.Now, mru: opts.MRU, st: newStyles(opts.Renderer),
		tick: opts.Tick, width: 80, height: 24, loading: true}
	m.recent = m.mru.Load()
	m.help = help.New()
	m.st.helpStyles(&m.help)

	m.roles = list.New(nil, roleDelegate{st: m.st, now: m.now}, 80, 20)
	m.review = list.New(nil, reviewDelegate{st: m.st, now: m.now}, 80, 20)
	for _, l := range []*list.Model{&m.roles, &m.review} {
		l.Styles = m.st.listStyles()
		l.Help.Styles = m.help.Styles
		l.Help = m.help
		l.SetShowTitle(false)
		l.SetShowStatusBar(true)
		l.SetStatusBarItemName("role", "roles")
		l.KeyMap.Quit.SetEnabled(false)
		l.KeyMap.ForceQuit.SetEnabled(false)
		l.FilterInput.Cursor.SetMode(cursor.CursorStatic)
		m.st.input(&l.FilterInput)
		l.DisableQuitKeybindings()
	}
	m.review.SetStatusBarItemName("request", "requests")
	m.roles.AdditionalShortHelpKeys = func() []key.Binding {
		return []key.Binding{
			key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "use/request")),
			key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "review")),
			key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		}
	}
	m.review.AdditionalShortHelpKeys = func() []key.Binding {
		return []key.Binding{
			key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "approve")),
			key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "deny")),
			key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "roles")),
		}
	}
	m.comment = m.newInput("comment: ", "")
	m.resize()
	return m
}

// Result is what the user chose; valid once the program has ended.
func (m *Model) Result() Result { return m.result }

func (m *Model) newInput(prompt, placeholder string) textinput.Model {
	ti := textinput.New()
	ti.Prompt = prompt
	ti.Placeholder = placeholder
	ti.CharLimit = 500
	ti.Cursor.SetMode(cursor.CursorStatic)
	m.st.input(&ti)
	return ti
}

// Init loads the roles, the user's grants and the review queue, and starts the countdown.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.load(), m.loadReview(), m.tickCmd())
}

// bodyHeight is what is left for a screen's body below the tab line and
// above the error line.
func (m *Model) bodyHeight() int { return max(4, m.height-3) }

func (m *Model) resize() {
	m.roles.SetSize(m.width, m.bodyHeight())
	m.review.SetSize(m.width, m.bodyHeight())
	m.help.Width = m.width
	for i := range m.inputs {
		m.inputs[i].Width = max(10, m.width-20)
	}
	m.comment.Width = max(10, m.width-12)
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.resize()
		return m, nil
	case tickMsg:
		return m, m.tickCmd()
	case loadedMsg:
		m.loading = false
		if msg.err != nil {
			m.err = msg.err
			return m, nil
		}
		m.allRole, m.mine = msg.roles, msg.mine
		return m, m.roles.SetItems(m.roleItems())
	case reviewMsg:
		return m.onReview(msg)
	case createdMsg:
		if msg.err != nil {
			m.screen, m.formErr = screenForm, errLine(msg.err)
			return m, nil
		}
		m.req, m.waitErr, m.creds, m.credsErr = msg.req, nil, false, nil
		return m, m.follow()
	case changedMsg:
		if m.req == nil || msg.id != m.req.ID || msg.gen != m.waitGen || m.screen != screenWaiting {
			return m, nil // the user left; the request stays as it is on the server
		}
		if msg.err != nil {
			m.waitErr = msg.err
			return m, nil
		}
		m.req = msg.req
		return m, m.follow()
	case credsMsg:
		return m.onCreds(msg)
	case grantMsg:
		return m.onGrant(msg)
	case decidedMsg:
		return m.onDecided(msg)
	case tea.KeyMsg:
		if msg.String() == "ctrl+c" {
			if m.screen == screenWaiting && m.req != nil && m.req.State == api.StatePending {
				m.result.PendingID = m.req.ID
			}
			return m, tea.Quit
		}
		return m.key(msg)
	}
	return m.forward(msg)
}

// onReview handles reviewMsg: the review queue has loaded.
func (m *Model) onReview(msg reviewMsg) (tea.Model, tea.Cmd) {
	m.reviewLoaded = true
	if msg.err != nil {
		m.err = msg.err
		return m, nil
	}
	items := make([]list.Item, len(msg.reqs))
	for i, r := range msg.reqs {
		items[i] = reviewItem{req: r}
	}
	return m, m.review.SetItems(items)
}

// onCreds handles credsMsg: credentials for the followed request were fetched (or not).
func (m *Model) onCreds(msg credsMsg) (tea.Model, tea.Cmd) {
	if m.req != nil && msg.role == m.req.Role {
		m.creds, m.credsErr = msg.err == nil, msg.err
		if msg.err == nil && m.req.State.Granted() {
			// Follow the grant while the picker runs: a revoke wipes
			// its cached credentials at once (SessionBackend.WaitChange).
			return m, tea.Batch(m.load(), m.watchGrantCmd(m.req))
		}
	}
	return m, m.load()
}

// onGrant handles grantMsg: the watched grant changed.
func (m *Model) onGrant(msg grantMsg) (tea.Model, tea.Cmd) {
	if msg.err != nil || msg.req == nil {
		return m, nil // not watching any more; the credentials still end with the grant
	}
	if msg.req.State != api.StatePending && msg.req.Remaining(m.now()) <= 0 {
		m.notice = fmt.Sprintf("Your grant %s for %s is %s; its cached credentials are wiped.", msg.req.ID, msg.req.Role, msg.req.State)
		return m, m.load()
	}
	return m, m.watchGrantCmd(msg.req)
}

// onDecided handles decidedMsg: an approve or deny came back.
func (m *Model) onDecided(msg decidedMsg) (tea.Model, tea.Cmd) {
	if msg.err != nil {
		m.decideNote = errLine(msg.err)
		return m, nil
	}
	verb := "Denied"
	if msg.approve {
		verb = "Approved"
	}
	m.notice = fmt.Sprintf("%s %s's request %s for %s (now %s).", verb, msg.req.Requester, msg.req.ID, msg.req.Role, msg.req.State)
	m.screen, m.deciding = screenReview, nil
	return m, m.loadReview()
}

// forward passes other messages (filter results, cursor) to the focused bubble.
func (m *Model) forward(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch m.screen {
	case screenRoles:
		m.roles, cmd = m.roles.Update(msg)
	case screenReview:
		m.review, cmd = m.review.Update(msg)
	case screenForm:
		if m.focus < len(m.inputs) {
			m.inputs[m.focus], cmd = m.inputs[m.focus].Update(msg)
		}
	case screenDecide:
		m.comment, cmd = m.comment.Update(msg)
	}
	return m, cmd
}

// follow moves on from a request's new state: keep waiting, fetch
// credentials, or show the end.
func (m *Model) follow() tea.Cmd {
	m.screen = screenWaiting
	if m.req.State == api.StatePending {
		return m.waitCmd(m.req)
	}
	m.screen = screenResult
	if m.req.State.Granted() {
		return m.credsCmd(m.req.Role)
	}
	return m.load()
}

func (m *Model) roleItems() []list.Item {
	now := m.now()
	items := make([]roleItem, 0, len(m.allRole))
	for _, r := range m.allRole {
		it := roleItem{role: r}
		for i := range m.mine {
			q := &m.mine[i]
			if q.Role != r.Name {
				continue
			}
			switch {
			case q.State.Granted() && q.Remaining(now) > 0 && (it.grant == nil || q.EndsAt.After(it.grant.EndsAt)):
				it.grant = q
			case q.State == api.StatePending && (it.pending == nil || q.CreatedAt.After(it.pending.CreatedAt)):
				it.pending = q
			}
		}
		items = append(items, it)
	}
	rank := func(name string) int {
		if i := slices.Index(m.recent, name); i >= 0 {
			return i
		}
		return len(m.recent)
	}
	slices.SortStableFunc(items, func(a, b roleItem) int { return rank(a.role.Name) - rank(b.role.Name) })
	out := make([]list.Item, len(items))
	for i, it := range items {
		out[i] = it
	}
	return out
}

func (m *Model) touch(role string) {
	if err := m.mru.Touch(role); err != nil {
		m.notice = "could not remember recent roles: " + err.Error()
	}
	m.recent = m.mru.Load()
}

func (m *Model) key(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch m.screen {
	case screenRoles:
		return m.rolesKey(msg)
	case screenReview:
		return m.reviewKey(msg)
	case screenDecide:
		return m.decideKey(msg)
	case screenActions:
		return m.actionsKey(msg)
	case screenForm:
		return m.formKey(msg)
	case screenWaiting:
		return m.waitingKey(msg)
	case screenResult:
		return m.resultKey(msg)
	}
	return m.forward(msg)
}
