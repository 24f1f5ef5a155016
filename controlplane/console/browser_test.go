package console_test

// The console in a real browser: headless Chromium (Debian's chromium package) driven over the DevTools protocol
// with chromedp, against a daemon in this process on two kfake clusters. chromedp is a Go library with no driver
// binary and no Node: `go test` drives the browser directly, so `make test` needs nothing but Go and Chromium.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/controlplane/console"
	"github.com/clusterlink/clusterlink/controlplane/daemon"
	"github.com/clusterlink/clusterlink/replicator"
)

const testToken = "console-test-token"

// chromium finds the browser: $CHROMIUM, else Debian's /usr/bin/chromium, else one on the PATH.
func chromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// noBrowser fails in CI (CI=true), where the browser tests must run, and skips elsewhere.
func noBrowser(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format+" (CI=true: the browser tests must run; install Debian's chromium)", args...)
	}
	t.Skipf(format+" (install Debian's chromium, or set CHROMIUM, to run the browser tests)", args...)
}

type env struct {
	t      *testing.T
	src    *kfake.Cluster
	srcCl  *kgo.Client
	base   string
	client *adminapi.Client
	shots  string
}

func startDaemon(t *testing.T) *env {
	t.Helper()
	src, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	dst, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dst.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(src.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	e := &env{t: t, src: src, srcCl: cl}
	ctx := context.Background()
	for topic, partitions := range map[string]int32{"rest-api": 2, "sensor-data-raw": 3} {
		if err := src.CreateTopic(topic, partitions, nil); err != nil {
			t.Fatal(err)
		}
		e.produce(ctx, topic, 500)
	}
	cfg := &config.Config{
		Destination: config.Cluster{BootstrapServers: dst.ListenAddrs()},
		Admin:       config.Admin{Listen: "127.0.0.1:0", Token: testToken},
		State:       config.State{Topic: config.DefaultStateTopic},
	}
	d, err := daemon.New(ctx, cfg, daemon.Options{Logger: zaptest.NewLogger(t),
		ReplicatorOpts: []replicator.Opt{replicator.MetadataRefresh(500 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done; d.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for !d.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("the daemon did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	shots := os.Getenv("CLUSTERLINK_SCREENSHOTS")
	if shots == "" {
		shots = "screenshots"
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	addr := d.Addr().String()
	e.base, e.client, e.shots = "http://"+addr+console.Prefix, adminapi.NewClient(addr, testToken), shots
	return e
}

func (e *env) produce(ctx context.Context, topic string, n int) {
	e.t.Helper()
	recs := make([]*kgo.Record, 0, n)
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i%50), Value: fmt.Appendf(nil, `{"seq":%d}`, i)})
	}
	if err := e.srcCl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		e.t.Fatalf("produce to %s: %v", topic, err)
	}
}

// browser starts headless Chromium at 1280 px wide, sending the admin token as the password of HTTP Basic on every
// request (what a browser sends after its prompt for the daemon's Basic challenge), or fails/skips when it cannot.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromium()
	if path == "" {
		noBrowser(t, "no Chromium found")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("lang", "en-US"))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		noBrowser(t, "Chromium at %s did not start: %v", path, err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders,
		network.SetExtraHTTPHeadersParams{Headers: network.Headers{
			"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("operator:"+testToken))}}); err != nil {
		t.Fatal(err)
	}
	return ctx
}

func (e *env) run(ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	e.t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		e.t.Fatalf("%s: %v", what, err)
	}
}

func (e *env) screenshot(ctx context.Context, name string) {
	e.t.Helper()
	time.Sleep(150 * time.Millisecond)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		e.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(e.shots, name+".png"), png, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// page routes the console to another page as a link would: a new fragment, no page load (chromedp.Navigate
// would wait for a load event that a fragment change never fires).
func (e *env) page(fragment string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf("location.hash = %q", fragment))
}

func (e *env) eval(ctx context.Context, js string) bool {
	e.t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
	if err != nil {
		e.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitFor evaluates a JavaScript condition until it is true.
func (e *env) waitFor(ctx context.Context, what, js string, timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		if err != nil {
			e.t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			e.t.Fatalf("%s: not within %v; the page says:\n%s", what, timeout, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *env) text(ctx context.Context, sel string) string {
	e.t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		e.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// TestConsole_CreateLinkWatchMirrorsPromote is the origin document's walkthrough in the browser: a bad bootstrap
// and a bad filter are shown next to their fields; the link is created through the form with all topics, all
// consumer offsets and all ACLs; its configs on the daemon are what the form said; the mirrors turn ACTIVE with lag
// 0; rest-api is promoted and shows STOPPED.
func TestConsole_CreateLinkWatchMirrorsPromote(t *testing.T) {
	if testing.Short() {
		t.Skip("a browser test: runs without -short")
	}
	ctx := browser(t)
	e := startDaemon(t)
	bootstrap := strings.Join(e.src.ListenAddrs(), ",")

	// A dry run with a bad bootstrap and a bad custom filter: each problem next to its field, nothing created.
	e.run(ctx, "open the create page", chromedp.Navigate(e.base+"#/create"), chromedp.WaitVisible(chromedp.ID("f-name")))
	e.run(ctx, "fill a bad form",
		chromedp.SendKeys(chromedp.ID("f-name"), "bad-link"),
		chromedp.SendKeys(chromedp.ID("f-bootstrap"), "not a host"),
		chromedp.Click(chromedp.ID("f-topics-custom")),
		chromedp.SetValue(chromedp.ID("f-topicsCustom"), `{"topicFilters":[{"name":"*","patternType":"GLOB","filterType":"INCLUDE"}]}`),
		chromedp.Click(chromedp.ID("dry-run")))
	e.waitFor(ctx, "the problems of the dry run", `document.querySelector("#err-bootstrap .problem") !== null && document.querySelector("#err-topics .problem") !== null`, 10*time.Second)
	if s := e.text(ctx, "#err-bootstrap"); !strings.Contains(s, `bootstrap.servers: "not a host" is not host:port`) {
		t.Errorf("next to the bootstrap field: %q", s)
	}
	if s := e.text(ctx, "#err-topics"); !strings.Contains(s, "auto.create.mirror.topics.filters") || !strings.Contains(s, `"GLOB" is not one of LITERAL, PREFIXED`) {
		t.Errorf("next to the topics choice: %q", s)
	}
	if invalid := e.eval(ctx, `document.getElementById("f-bootstrap").getAttribute("aria-invalid") === "true"`); !invalid {
		t.Errorf("the bootstrap field is not marked invalid")
	}
	e.screenshot(ctx, "create-link-problems")

	// Credentials: username and password become sasl.jaas.config. This daemon has no state.encryption.key, so it
	// refuses to keep a secret; the refusal is shown next to the password, and the password is in no message.
	e.run(ctx, "give SASL credentials",
		chromedp.SetValue(chromedp.ID("f-bootstrap"), bootstrap), chromedp.Click(chromedp.ID("f-topics-all")),
		chromedp.SetValue(chromedp.ID("f-protocol"), "SASL_SSL"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("f-protocol").dispatchEvent(new Event("change"))`),
		chromedp.WaitVisible(chromedp.ID("f-password")),
		chromedp.SetValue(chromedp.ID("f-mechanism"), "SCRAM-SHA-512"),
		chromedp.SendKeys(chromedp.ID("f-username"), "alice"),
		chromedp.SendKeys(chromedp.ID("f-password"), "pa55-w0rd"),
		chromedp.Click(chromedp.ID("dry-run")))
	e.waitFor(ctx, "the refused secret", `document.querySelector("#err-password .problem") !== null`, 10*time.Second)
	if s := e.text(ctx, "#err-password"); !strings.Contains(s, "sasl.jaas.config") || !strings.Contains(s, "state.encryption.key") {
		t.Errorf("next to the password: %q", s)
	}
	if s := e.text(ctx, "main"); strings.Contains(s, "pa55-w0rd") || e.eval(ctx, `location.href.includes("pa55")`) {
		t.Errorf("the password is shown on the page or in the URL")
	}
	e.screenshot(ctx, "create-link-secret-refused")
	if links, err := e.client.Links(ctx); err != nil || len(links) != 0 {
		t.Fatalf("a dry run created something: %v %v", links, err)
	}

	// The link as the origin document's UI creates it: all topics, all consumer offsets, all ACLs.
	e.run(ctx, "open a new form", e.page("#/links"))
	e.waitFor(ctx, "the links page", `document.querySelector("main h1").textContent === "Links"`, 10*time.Second)
	e.run(ctx, "open a new form", e.page("#/create"))
	e.waitFor(ctx, "an empty form", `document.getElementById("f-name") !== null && document.getElementById("f-name").value === ""`, 10*time.Second)
	e.run(ctx, "fill the form",
		chromedp.SendKeys(chromedp.ID("f-name"), "my-link"),
		chromedp.SendKeys(chromedp.ID("f-bootstrap"), bootstrap),
		chromedp.Click(chromedp.ID("f-topics-all")),
		chromedp.Click(chromedp.ID("f-groups-all")),
		chromedp.Click(chromedp.ID("f-acls-all")),
		chromedp.SendKeys(chromedp.ID("f-extra"), "topic.config.sync.ms=1000"),
		chromedp.Click(chromedp.ID("dry-run")))
	e.waitFor(ctx, "the dry run's answer", `document.querySelector("#create-result .ok") !== null`, 10*time.Second)
	e.screenshot(ctx, "create-link-dry-run")
	e.run(ctx, "create the link", chromedp.Click(chromedp.ID("create")), chromedp.WaitVisible(chromedp.ID("configs-table")))

	configs, err := e.client.LinkConfigs(ctx, "my-link")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range configs {
		if c.Source == "DYNAMIC_CLUSTER_LINK_CONFIG" {
			got[c.Name] = c.Value
		}
	}
	want := map[string]string{
		"bootstrap.servers":                 bootstrap,
		"auto.create.mirror.topics.enable":  "true",
		"auto.create.mirror.topics.filters": `{"topicFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}`,
		"consumer.offset.sync.enable":       "true",
		"consumer.offset.group.filters":     `{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}`,
		"acl.sync.enable":                   "true",
		"acl.filters":                       `{"aclFilters":[{"resourceFilter":{"resourceType":"any","patternType":"any"},"accessFilter":{"operation":"any","permissionType":"any"}}]}`,
		"topic.config.sync.ms":              "1000",
	}
	if !sameConfigs(got, want) {
		t.Errorf("the link's configs on the daemon:\n%v\nthe form said:\n%v", got, want)
	}
	page := e.text(ctx, "#configs-table")
	for _, s := range []string{"auto.create.mirror.topics.filters", "consumer.offset.group.filters", "acl.filters", "DYNAMIC_CLUSTER_LINK_CONFIG"} {
		if !strings.Contains(page, s) {
			t.Errorf("the configs table does not show %s", s)
		}
	}

	// Edit a config: a dry run of a value below the minimum is refused next to the field; a good value is saved.
	e.run(ctx, "edit acl.sync.ms",
		chromedp.Click(chromedp.CSS(`button[data-config="acl.sync.ms"]`)), chromedp.WaitVisible(chromedp.ID("edit-value")),
		chromedp.SetValue(chromedp.ID("edit-value"), "500"), chromedp.Click(chromedp.ID("edit-dry")))
	e.waitFor(ctx, "the refused edit", `document.querySelector("#edit-problems .error") !== null`, 10*time.Second)
	if s := e.text(ctx, "#edit-problems"); !strings.Contains(s, "acl.sync.ms: 500 is below the minimum 1000") {
		t.Errorf("next to the edited value: %q", s)
	}
	e.run(ctx, "save acl.sync.ms", chromedp.SetValue(chromedp.ID("edit-value"), "7000"), chromedp.Click(chromedp.ID("edit-save")))
	e.waitFor(ctx, "the saved config", `[...document.querySelectorAll("#configs-table tr")].some(tr => tr.textContent.startsWith("acl.sync.ms7000"))`, 10*time.Second)
	if c, err := e.client.LinkConfig(ctx, "my-link", "acl.sync.ms"); err != nil || c.Value != "7000" {
		t.Errorf("acl.sync.ms on the daemon: %+v %v, want 7000", c, err)
	}
	e.screenshot(ctx, "link-detail")
	e.run(ctx, "only the configs set", chromedp.Click(chromedp.ID("f-only-set")))
	if !e.eval(ctx, `[...document.querySelectorAll("#configs-table tbody tr")].filter(tr => tr.offsetParent !== null).length === 9`) {
		t.Error("with 'only the configs set', the table does not show exactly the 9 configs set on the link")
	}
	e.screenshot(ctx, "link-detail-set-configs")

	// The mirrors, live: every source topic ACTIVE with lag 0, without a reload.
	e.run(ctx, "open the mirrors page", e.page("#/mirrors"), chromedp.WaitVisible(chromedp.ID("mirrors-table")))
	e.waitFor(ctx, "both mirrors ACTIVE with lag 0", `(() => {
		const rows = [...document.querySelectorAll("#mirrors-table tbody tr[data-topic]")];
		return rows.length === 2 && rows.every(r => r.dataset.status === "ACTIVE" && r.dataset.maxLag === "0");
	})()`, 60*time.Second)
	// Data keeps flowing into sensor-data-raw: the chart draws the copy rate, and the lag comes back to 0.
	for burst := range 4 {
		e.produce(ctx, "sensor-data-raw", 400*(burst+1))
		time.Sleep(1500 * time.Millisecond)
	}
	e.waitFor(ctx, "sensor-data-raw back at lag 0", `document.querySelector('#mirrors-table tr[data-topic="sensor-data-raw"]').dataset.maxLag === "0"`, 30*time.Second)
	e.screenshot(ctx, "mirrors")
	e.run(ctx, "open rest-api's details", chromedp.Click(chromedp.CSS(`button[aria-controls="detail-my-link-rest-api"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#detail-my-link-rest-api table.partitions`)))
	e.waitFor(ctx, "the fidelity counters", `document.querySelector("#detail-my-link-rest-api dl.fidelity") !== null`, 10*time.Second)
	if s := e.text(ctx, "#detail-my-link-rest-api table.partitions"); !strings.Contains(s, "caught up") {
		t.Errorf("rest-api's partitions: %q", s)
	}

	// Promote rest-api, confirmed in the dialog: the result table, then STOPPED in the live list.
	e.run(ctx, "promote rest-api",
		chromedp.Click(chromedp.CSS(`#detail-my-link-rest-api button[data-op="promote"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm")))
	if s := e.text(ctx, "#confirm-text"); !strings.Contains(s, "Promote rest-api") {
		t.Errorf("the confirmation says %q", s)
	}
	e.screenshot(ctx, "promote-confirm")
	e.run(ctx, "confirm the promote", chromedp.Click(chromedp.ID("confirm-ok")))
	e.waitFor(ctx, "the promote's result", `document.querySelector("#result-rest-api .ok") !== null || document.querySelector("#result-rest-api .error") !== null`, 60*time.Second)
	if s := e.text(ctx, "#result-rest-api"); !strings.Contains(s, "rest-api promoted.") {
		t.Fatalf("the promote's result: %q", s)
	}
	e.waitFor(ctx, "rest-api STOPPED", `document.querySelector('#mirrors-table tr[data-topic="rest-api"]').dataset.status === "STOPPED"`, 10*time.Second)
	if m, err := e.client.Mirror(ctx, "my-link", "rest-api"); err != nil || m.MirrorStatus != "STOPPED" {
		t.Errorf("rest-api on the daemon: %s %v", m.MirrorStatus, err)
	}
	e.screenshot(ctx, "mirror-promoted")

	// A promote of a stopped mirror is refused, in words; this time with the keyboard only: Enter on the button,
	// the dialog opens on Cancel, Tab to Promote, Enter.
	e.run(ctx, "promote rest-api again from the keyboard",
		chromedp.Focus(chromedp.CSS(`#detail-my-link-rest-api button[data-op="promote"]`)), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.ID("confirm")))
	e.waitFor(ctx, "focus on Cancel", `document.activeElement.id === "confirm-cancel"`, 5*time.Second)
	e.run(ctx, "Tab, Enter", chromedp.KeyEvent(kb.Tab))
	e.waitFor(ctx, "focus on Promote", `document.activeElement.id === "confirm-ok"`, 5*time.Second)
	e.run(ctx, "Enter", chromedp.KeyEvent(kb.Enter))
	e.waitFor(ctx, "the refusal", `document.querySelector("#result-rest-api .error") !== null`, 20*time.Second)
	if s := e.text(ctx, "#result-rest-api .error"); !strings.Contains(s, "rest-api was not promoted") && !strings.Contains(s, "refused") {
		t.Errorf("the second promote: %q", s)
	}

	// Verify the other mirror: identical.
	e.run(ctx, "verify sensor-data-raw",
		chromedp.Click(chromedp.CSS(`button[aria-controls="detail-my-link-sensor-data-raw"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#detail-my-link-sensor-data-raw button[data-op="verify"]`)),
		chromedp.Click(chromedp.CSS(`#detail-my-link-sensor-data-raw button[data-op="verify"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm")), chromedp.Click(chromedp.ID("confirm-ok")))
	e.waitFor(ctx, "the verification", `document.querySelector("#result-sensor-data-raw .verify-result") !== null || document.querySelector("#result-sensor-data-raw .error") !== null`, 30*time.Second)
	if s := e.text(ctx, "#result-sensor-data-raw"); !strings.Contains(s, "is identical to sensor-data-raw") {
		t.Errorf("the verification: %q", s)
	}
	e.screenshot(ctx, "mirror-verified")
	// Create mirror: a dry run of a mirror that exists already is refused, in words, under the form.
	e.run(ctx, "create rest-api again (dry run)",
		chromedp.SendKeys(chromedp.ID("f-mirror-source"), "rest-api"),
		chromedp.Click(chromedp.CSS(`#mirror-form button[value="dry"]`)))
	e.waitFor(ctx, "the refusal", `document.querySelector("#err-mirror .error") !== null`, 10*time.Second)
	if s := e.text(ctx, "#err-mirror"); !strings.Contains(s, "rest-api") {
		t.Errorf("create mirror rest-api again: %q", s)
	}

	// The picture of README.md (docs/console.png): the list with one mirror's panel open, as a 1280x900 window shows it.
	e.run(ctx, "close rest-api's details", chromedp.Click(chromedp.CSS(`button[aria-controls="detail-my-link-rest-api"]`)))
	e.waitFor(ctx, "rest-api's panel closed", `document.getElementById("detail-my-link-rest-api").closest("tr").hidden`, 5*time.Second)
	time.Sleep(150 * time.Millisecond)
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(filepath.Join(e.shots, "console.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}

	// The links page, and the mirrors page on a narrow screen.
	e.run(ctx, "open the links page", e.page("#/links"), chromedp.WaitVisible(chromedp.ID("links-table")))
	if s := e.text(ctx, "#links-table"); !strings.Contains(s, "my-link") || !strings.Contains(s, "ACTIVE") {
		t.Errorf("the links page: %q", s)
	}
	e.screenshot(ctx, "links")
	e.run(ctx, "a narrow screen", chromedp.EmulateViewport(390, 844), e.page("#/mirrors"),
		chromedp.WaitVisible(chromedp.CSS(`#mirrors-table tr[data-topic="rest-api"]`)))
	e.screenshot(ctx, "mirrors-narrow")
	if e.eval(ctx, `document.documentElement.scrollWidth > window.innerWidth + 1`) {
		t.Errorf("at 390 px the page scrolls sideways (only tables may)")
	}
}

// sameConfigs compares configs, the filter JSON as JSON (the daemon may keep it formatted its own way).
func sameConfigs(got, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			return false
		}
		if strings.HasPrefix(w, "{") {
			var gv, wv any
			if json.Unmarshal([]byte(g), &gv) != nil || json.Unmarshal([]byte(w), &wv) != nil || !reflect.DeepEqual(gv, wv) {
				return false
			}
		} else if g != w {
			return false
		}
	}
	return true
}

// TestConsole_SignInKeepsTheTokenInTheTab: when the daemon answers 401 to a page already loaded (its Basic
// credentials gone), the console asks for the token, keeps it in sessionStorage only, sends it as a bearer token,
// and never puts it in the URL.
func TestConsole_SignInKeepsTheTokenInTheTab(t *testing.T) {
	if testing.Short() {
		t.Skip("a browser test: runs without -short")
	}
	ctx := browser(t)
	e := startDaemon(t)
	e.run(ctx, "open the console", chromedp.Navigate(e.base+"#/links"))
	e.waitFor(ctx, "the links page", `document.querySelector("main h1") !== null && document.querySelector("main h1").textContent === "Links"`, 10*time.Second)
	// The Basic credentials go; the browser's own prompt is cancelled, as a user would who has only the token at hand.
	cancelPrompts(ctx, t)
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{}}); err != nil {
		t.Fatal(err)
	}
	e.run(ctx, "go to the mirrors", e.page("#/create"), e.page("#/links"))
	e.waitFor(ctx, "the sign-in", `!document.getElementById("signin").hidden`, 10*time.Second)
	e.screenshot(ctx, "sign-in")
	e.run(ctx, "sign in", chromedp.SendKeys(chromedp.ID("signin-token"), testToken+kb.Enter))
	e.waitFor(ctx, "the links page again", `document.getElementById("signin").hidden && document.querySelector("main h1") !== null && document.querySelector("main h1").textContent === "Links"`, 10*time.Second)
	if !e.eval(ctx, fmt.Sprintf(`sessionStorage.getItem("clusterlink.token") === %q && localStorage.length === 0 && !location.href.includes(%q) && document.cookie === ""`, testToken, testToken)) {
		t.Error("the token is not in sessionStorage only")
	}
}

// cancelPrompts answers every HTTP auth challenge of the page with "cancel" (headless Chromium would wait for
// credentials), letting every other request through.
func cancelPrompts(ctx context.Context, t *testing.T) {
	t.Helper()
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	challenged := chromedp.Events(ctx, fetch.AuthRequired)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
		}
	}()
	go func() {
		for ev, err := range challenged {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{RequestID: ev.RequestID,
				AuthChallengeResponse: &fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseCancelAuth}})
		}
	}()
	handle := true
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{HandleAuthRequests: &handle}); err != nil {
		t.Fatal(err)
	}
}

// TestLinkForm_WhatTheFormSendsIsWhatTheDaemonReads runs the form's own module (linkform.js) in the browser: a
// username and password with quotes, backslashes and blanks become a sasl.jaas.config that the daemon's parser
// reads back to the same credentials, the three "all" choices give filters it accepts, and the daemon's problems
// land on the fields they name.
func TestLinkForm_WhatTheFormSendsIsWhatTheDaemonReads(t *testing.T) {
	if testing.Short() {
		t.Skip("a browser test: runs without -short")
	}
	ctx := browser(t)
	e := startDaemon(t)
	e.run(ctx, "open the console", chromedp.Navigate(e.base+"#/create"), chromedp.WaitVisible(chromedp.ID("f-name")))
	const user, pass = `al"ice\`, `p"a\ss w;rd}`
	js := fmt.Sprintf(`import("./js/linkform.js").then(m => {
		const built = m.buildConfigs({bootstrap: " b1:9092,b2:9092 ", protocol: "SASL_SSL", mechanism: "SCRAM-SHA-256",
			username: %q, password: %q, topics: "all", groups: "all", acls: "all",
			extra: "# comment\ntopic.config.sync.ms = 1000\n\nnot a pair"});
		return JSON.stringify({built, problems: m.problemsByField(%q, built.field)});
	})`, user, pass, strings.Join([]string{
		`bootstrap.servers: "x" is not host:port`,
		`acl.sync.enable: true needs acl.filters with at least one filter`,
		`acl.filters: aclFilters[0].resourceFilter.resourceType: "t" is not one of ANY`,
		`sasl.jaas.config, ssl.key.password: the state topic would keep these in clear text; set state.encryption.key`,
		`ssl.truststore.location=/etc/x.jks: files given over the API must lie under a directory`,
		`config topic.config.sync.ms is given twice`,
		`link name: the source client id "x"... would be 300 characters`,
		`request body: more than one JSON value`,
	}, "\n"))
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Built struct {
			Configs  []adminapi.ConfigValue `json:"configs"`
			Problems []string               `json:"problems"`
		} `json:"built"`
		Problems map[string][]string `json:"problems"`
	}
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatal(err)
	}
	configs := map[string]string{}
	for _, c := range out.Built.Configs {
		configs[c.Name] = c.Value
	}
	l, err := config.ParseLink("l", configs)
	if err != nil {
		t.Fatalf("the daemon refuses what the form built: %v\n%v", err, configs)
	}
	if l.Security.Username != user || l.Security.Password != pass || l.Security.SASLMechanism != config.MechanismScramSHA256 {
		t.Errorf("the daemon reads username %q, a password equal: %v, mechanism %v", l.Security.Username, l.Security.Password == pass, l.Security.SASLMechanism)
	}
	if configs["bootstrap.servers"] != "b1:9092,b2:9092" || configs["topic.config.sync.ms"] != "1000" || configs["acl.sync.enable"] != "true" {
		t.Errorf("configs: %v", configs)
	}
	if len(out.Built.Problems) != 1 || !strings.Contains(out.Built.Problems[0], `line 4: "not a pair" is not name=value`) {
		t.Errorf("the extra configs' problems: %v", out.Built.Problems)
	}
	// ssl.truststore.location was not given by the form: its problem is a general one.
	want := map[string]int{"bootstrap": 1, "acls": 2, "password": 1, "extra": 1, "name": 1, "general": 2}
	for f, n := range want {
		if len(out.Problems[f]) != n {
			t.Errorf("problems of %s: %q, want %d", f, out.Problems[f], n)
		}
	}
}
