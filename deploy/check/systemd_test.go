package check

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnit_Verifies runs systemd-analyze verify on deploy/systemd/clusterlink.service, with ExecStart pointed
// at a clusterlink binary built here (verify checks that the command exists). Any message it prints (an unknown key,
// a bad value) fails the test. Without systemd-analyze the test is skipped, except with CI=true.
func TestSystemdUnit_Verifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze is not installed (Debian: systemd)")
		}
		t.Skip("systemd-analyze is not installed")
	}
	unit, err := os.ReadFile("../systemd/clusterlink.service")
	if err != nil {
		t.Fatal(err)
	}
	const installed = "/usr/local/bin/clusterlink"
	if !strings.Contains(string(unit), "ExecStart="+installed+" run --config /etc/clusterlink/clusterlink.yaml") {
		t.Fatalf("ExecStart does not run %s run --config /etc/clusterlink/clusterlink.yaml", installed)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "clusterlink")
	if out, err := exec.Command("go", "build", "-C", "../..", "-o", bin, "./cmd/clusterlink").CombinedOutput(); err != nil {
		t.Fatalf("build clusterlink: %v\n%s", err, out)
	}
	path := filepath.Join(dir, "clusterlink.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), installed, bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
