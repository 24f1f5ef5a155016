package kafkatest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// ClasspathEnv names an environment variable that, when set, points to a file holding the broker's Java classpath
// (colon separated), skipping the Maven resolution.
const ClasspathEnv = "CLUSTERLINK_KAFKA_CLASSPATH"

// pomPath is the pom.xml beside this source file: it pins the broker version.
func pomPath() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("locate kafkatest sources: runtime.Caller failed")
	}
	p := filepath.Join(filepath.Dir(file), "pom.xml")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("locate the broker pom: %w", err)
	}
	return p, nil
}

// cacheDir is where resolved classpaths are kept, outside the work tree.
func cacheDir() (string, error) {
	if d := os.Getenv("CLUSTERLINK_CACHE_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find a cache directory (set CLUSTERLINK_CACHE_DIR): %w", err)
	}
	return filepath.Join(d, "clusterlink"), nil
}

// Classpath returns the broker's Java classpath, resolving the pinned jars with `mvn` on first use. The result is
// cached per pom.xml content, so changing the pinned version resolves again. Concurrent test binaries serialise on a
// file lock so that Maven runs once.
func Classpath() (string, error) {
	if f := os.Getenv(ClasspathEnv); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("read %s=%s: %w", ClasspathEnv, f, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	pom, err := pomPath()
	if err != nil {
		return "", err
	}
	return ResolveClasspath(pom, "kafka")
}

// ResolveClasspath returns the runtime classpath of the dependencies a pom.xml pins, resolving them with `mvn` on
// first use and caching the result per pom content under name (the benchmark resolves MirrorMaker 2 this way).
func ResolveClasspath(pom, name string) (string, error) {
	pomBytes, err := os.ReadFile(pom)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", pom, err)
	}
	sum := sha256.Sum256(pomBytes)
	dir, err := cacheDir()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create cache directory: %w", err)
	}
	out := filepath.Join(dir, name+"-classpath-"+hex.EncodeToString(sum[:8])+".txt")

	lock, err := os.OpenFile(out+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("open classpath lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock classpath cache: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // released on close anyway

	if cp, err := readClasspath(out); err == nil {
		return cp, nil
	}
	if _, err := exec.LookPath("mvn"); err != nil {
		return "", fmt.Errorf("resolve the jars of %s: mvn is not on PATH (install Maven and Java 17+, or set %s)", pom, ClasspathEnv)
	}
	tmp := out + ".tmp"
	cmd := exec.Command("mvn", "-q", "-B", "-f", pom, "dependency:build-classpath", "-Dmdep.outputFile="+tmp)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("resolve the jars of %s with mvn: %w\n%s", pom, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("store classpath: %w", err)
	}
	return readClasspath(out)
}

// readClasspath reads a cached classpath and checks that every jar is still there (a cleaned ~/.m2 resolves again).
func readClasspath(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	cp := strings.TrimSpace(string(b))
	if cp == "" {
		return "", errors.New("empty classpath")
	}
	for _, jar := range strings.Split(cp, string(os.PathListSeparator)) {
		if _, err := os.Stat(jar); err != nil {
			return "", fmt.Errorf("cached classpath is stale: %w", err)
		}
	}
	return cp, nil
}
