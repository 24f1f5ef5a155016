package daemon

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestTroubleshootingNamesEveryErrorCode keeps docs/runbooks/troubleshooting.md complete: every error code and state
// the code base defines (constants named Code* or Status* and the task states in replicator, task, link and aclsync,
// and every code an ErrorCode method returns) must appear in it, in backticks.
func TestTroubleshootingNamesEveryErrorCode(t *testing.T) {
	doc, err := os.ReadFile("../../docs/runbooks/troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]string{} // code -> where it is defined
	fset := token.NewFileSet()
	for _, dir := range []string{"../../replicator", "../task", "../link", "../../aclsync"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.ValueSpec:
					for i, name := range n.Names {
						isTaskState := strings.HasSuffix(dir, "task") && (name.Name == "Active" || name.Name == "InError" ||
							name.Name == "NotConfigured" || name.Name == "LinkPaused")
						if i < len(n.Values) && (strings.HasPrefix(name.Name, "Code") || strings.HasPrefix(name.Name, "Status") || isTaskState) {
							if s, ok := stringLit(n.Values[i]); ok {
								codes[s] = fset.Position(name.Pos()).String()
							}
						}
					}
				case *ast.FuncDecl:
					if n.Name.Name == "ErrorCode" && n.Body != nil {
						ast.Inspect(n.Body, func(m ast.Node) bool {
							if r, ok := m.(*ast.ReturnStmt); ok && len(r.Results) == 1 {
								if s, ok := stringLit(r.Results[0]); ok {
									codes[s] = fset.Position(r.Pos()).String()
								}
							}
							return true
						})
					}
				}
				return true
			})
		}
	}
	if len(codes) < 20 {
		t.Fatalf("found only %d codes: %v", len(codes), codes)
	}
	for code, where := range codes {
		if !strings.Contains(string(doc), "`"+code+"`") {
			t.Errorf("%s (defined at %s) is not in docs/runbooks/troubleshooting.md", code, where)
		}
	}
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil && s != "" && strings.ToUpper(s) == s
}
