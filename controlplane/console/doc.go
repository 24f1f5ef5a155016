// Package console serves the web console's embedded assets under /ui/ on the daemon's admin listener. The console is
// one more client of the admin API: plain HTML, CSS and JavaScript modules (no build step) that call the same
// /kafka/v3 paths as the CLI, from the browser, under the listener's one auth rule. This package holds no state and
// reaches no cluster; it must not add a path that answers data, or a rule of its own about who may see it.
package console
