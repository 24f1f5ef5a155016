package daemon

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/controlplane/state"
)

func apiStatus(err error) int {
	var apiErr *adminapi.Error
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode
	}
	if err == nil {
		return http.StatusOK
	}
	return -1
}

// TestDaemon_LinkNamesThatCannotRunAreRefusedBeforeAnythingIsStored creates links whose names, or the names
// derived from them, are over Kafka's limits: each is refused with 400 and a reason, and nothing reaches the state
// topic, so a restarted daemon starts cleanly.
func TestDaemon_LinkNamesThatCannotRunAreRefusedBeforeAnythingIsStored(t *testing.T) {
	f := newFixture(t)
	f.start(t)
	ctx := context.Background()
	boot := adminapi.ConfigValue{Name: "bootstrap.servers", Value: strings.Join(f.src.ListenAddrs(), ",")}
	for _, tc := range []struct {
		name, linkName string
		configs        []adminapi.ConfigValue
		want           string
	}{
		{"245 characters", strings.Repeat("n", 245), []adminapi.ConfigValue{boot}, "at most 200"},
		{"201 characters", strings.Repeat("n", 201), []adminapi.ConfigValue{boot}, "at most 200"},
		{"bad characters", "a/b", []adminapi.ConfigValue{boot}, "not a link name"},
		{"prefix too long", "long-prefix", []adminapi.ConfigValue{boot, {Name: "cluster.link.prefix", Value: strings.Repeat("p", 249)}}, "cluster.link.prefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := f.client.CreateLink(ctx, tc.linkName, adminapi.CreateLinkRequest{Configs: tc.configs}, false)
			if apiStatus(err) != http.StatusBadRequest || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("create %q: %v, want 400 mentioning %q", tc.linkName, err, tc.want)
			}
			if _, ok := f.d.store.Link(tc.linkName); ok {
				t.Fatalf("the refused link %q is in the state topic", tc.linkName)
			}
		})
	}
	ok := strings.Repeat("n", 200)
	if err := f.client.CreateLink(ctx, ok, adminapi.CreateLinkRequest{Configs: []adminapi.ConfigValue{boot}}, false); err != nil {
		t.Fatalf("a 200-character name: %v", err)
	}
	f.stop()
	f.start(t)
	if l, err := f.client.Link(ctx, ok); err != nil || l.LinkState != "ACTIVE" {
		t.Fatalf("the 200-character link after a restart: %+v, %v", l, err)
	}
	if err := f.client.DeleteLink(ctx, ok, false, false); err != nil {
		t.Fatal(err)
	}
}

// TestDaemon_BrokenStoredLinksAreListedAndCanBeFixedFailedOverOrDeleted stores links the daemon cannot run — one
// whose configs no longer parse, one with a name a daemon before the name check stored — and restarts the daemon:
// it starts, lists both FAILED with the reason, shows their configs and mirrors, fails a mirror over (the topic
// gets its source's configs back and stops being a mirror), runs the first again once its configs are fixed, and
// deletes the second.
func TestDaemon_BrokenStoredLinksAreListedAndCanBeFixedFailedOverOrDeleted(t *testing.T) {
	f := newFixture(t)
	f.cfg.Links = nil
	ctx := context.Background()
	for _, topic := range []string{"orders", "clicks"} {
		if err := f.src.CreateTopic(topic, 2, nil); err != nil {
			t.Fatal(err)
		}
		f.produce(t, f.srcCl, topic, 30)
	}
	f.start(t)
	boot := adminapi.ConfigValue{Name: "bootstrap.servers", Value: strings.Join(f.src.ListenAddrs(), ",")}
	const linkName = "breaks"
	if err := f.client.CreateLink(ctx, linkName, adminapi.CreateLinkRequest{Configs: []adminapi.ConfigValue{boot}}, false); err != nil {
		t.Fatal(err)
	}
	f.linkName = linkName
	for _, topic := range []string{"orders", "clicks"} {
		if err := f.client.CreateMirror(ctx, linkName, adminapi.CreateMirrorRequest{SourceTopicName: topic}, false); err != nil {
			t.Fatal(err)
		}
		f.waitMirror(t, topic, copied(30))
	}
	f.stop()

	// What a daemon finds when it starts: the link's configs no longer parse, and an unrunnable name.
	store, err := state.Open(ctx, f.dstCl, f.cfg.State.Topic, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rec, _ := store.Link(linkName)
	rec.Configs = map[string]string{"bootstrap.servers": boot.Value, "replica.fetch.max.bytes": "lots"}
	long := strings.Repeat("x", 245)
	for _, r := range []state.Link{rec, {Name: long, ID: "old", Origin: state.OriginAPI, Configs: map[string]string{"bootstrap.servers": boot.Value}}} {
		if err := store.PutLink(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	f.start(t)

	links, err := f.client.Links(ctx)
	if err != nil || len(links) != 2 {
		t.Fatalf("links: %+v, %v; want both broken links listed", links, err)
	}
	for _, l := range links {
		if l.LinkState != "FAILED" || l.LinkErrorMessage == "" {
			t.Errorf("link %.20s: %s %s %q, want FAILED with the reason", l.LinkName, l.LinkState, l.LinkError, l.LinkErrorMessage)
		}
	}
	l, _ := f.client.Link(ctx, linkName)
	if !strings.Contains(l.LinkErrorMessage, "replica.fetch.max.bytes") {
		t.Errorf("the reason %q does not name the bad config", l.LinkErrorMessage)
	}
	configs, err := f.client.LinkConfigs(ctx, linkName)
	if err != nil || len(configs) != 2 {
		t.Fatalf("configs of the broken link: %+v, %v", configs, err)
	}
	m := f.waitMirror(t, "orders", func(m adminapi.Mirror) bool { return m.MirrorStatus == "LINK_FAILED" })
	if m.ErrorMessage() == "" {
		t.Errorf("mirror of a broken link: %+v, want the link's reason", m)
	}
	res, err := f.client.AlterMirrors(ctx, linkName, adminapi.OpPromote, []string{"orders"}, adminapi.AlterOptions{})
	if err != nil || !res[0].Failed() {
		t.Errorf("promote on a broken link (needs the source): %+v, %v; want refused", res, err)
	}
	res, err = f.client.AlterMirrors(ctx, linkName, adminapi.OpFailover, []string{"orders"}, adminapi.AlterOptions{})
	if err != nil || res[0].Failed() {
		t.Fatalf("failover on a broken link: %+v, %v", res, err)
	}
	f.waitMirror(t, "orders", statusIs("STOPPED"))
	rcs, err := kadm.NewClient(f.dstCl).DescribeTopicConfigs(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rcs[0].Configs {
		if c.Key == "message.timestamp.type" && c.Source == 1 {
			t.Errorf("the failed-over topic keeps the mirror override %s=%v", c.Key, *c.Value)
		}
	}

	fix := adminapi.AlterConfigsRequest{Data: []adminapi.ConfigValue{{Name: "replica.fetch.max.bytes", Value: "1048576"}}}
	if err := f.client.AlterLinkConfigs(ctx, linkName, fix, false); err != nil {
		t.Fatal(err)
	}
	if l, err := f.client.Link(ctx, linkName); err != nil || l.LinkState != "ACTIVE" {
		t.Fatalf("after the fix: %+v, %v", l, err)
	}
	f.produce(t, f.srcCl, "clicks", 10)
	f.waitMirror(t, "clicks", copied(40))

	if err := f.client.DeleteLink(ctx, long, false, false); err != nil {
		t.Fatalf("delete the link with the unrunnable name: %v", err)
	}
	if _, ok := f.d.store.Link(long); ok {
		t.Fatal("the deleted link is still stored")
	}
	f.stop()
	f.start(t) // the daemon starts with what is left
}

func statusIs(s string) func(adminapi.Mirror) bool {
	return func(m adminapi.Mirror) bool { return m.MirrorStatus == s }
}
