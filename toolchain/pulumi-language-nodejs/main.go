// Command pulumi-language-nodejs is PaveMaster's own, minimal Node.js language
// host for the Pulumi engine.
//
// Why it exists: the upstream language host lives in a Go module that the Go
// module proxy we are allowed to use does not serve, so scripts/toolchain
// builds this one instead. It implements what `pulumi up/preview/destroy`,
// `pulumi about` and policy packs (`--policy-pack`) need:
//
//   - GetRequiredPackages / GetRequiredPlugins: resource plugins named by the
//     package.json files under node_modules ("pulumi": {"resource": true}).
//   - Run: starts `node <@pulumi/pulumi/cmd/run> --monitor ... <program>` the
//     way the Node.js SDK expects (flags and PULUMI_CONFIG* variables).
//   - RunPlugin: starts Node.js policy packs (cmd/run-policy-pack) and
//     Node.js provider plugins (cmd/run-plugin), streaming their output.
//   - InstallDependencies, About, GetProgramDependencies, GetPluginInfo.
//
// Everything else answers "unimplemented", which the engine handles.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// version is set with -ldflags "-X main.version=..." by scripts/toolchain.
var version = "0.0.0-dev"

// exitCodeAlreadyReported is the exit code the Node.js SDK uses after it has
// already shown the user an actionable error message.
const exitCodeAlreadyReported = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	tracing       string
}

func main() {
	tracing := flag.String("tracing", "", "tracing endpoint, passed on to the Node.js runtime")
	_ = flag.String("root", "", "project root (ignored: the engine sends it with each request)")
	_ = flag.Bool("typescript", true, "ignored: read from the runtime options in Pulumi.yaml")
	_ = flag.Bool("logtostderr", false, "ignored (passed by the engine with --logflow)")
	_ = flag.Int("v", 0, "ignored (passed by the engine with --logflow)")
	flag.Parse()

	h := &host{tracing: *tracing}
	if flag.NArg() > 0 {
		h.engineAddress = flag.Arg(0)
	}
	// End with the engine, and take the Node.js program with us (lifetime.go).
	watchEngine(engineGone)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: listen: %v\n", err)
		os.Exit(1)
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(400 * 1024 * 1024))
	pulumirpc.RegisterLanguageRuntimeServer(srv, h)
	// The engine reads the port from our first line of output.
	fmt.Printf("%d\n", lis.Addr().(*net.TCPAddr).Port)
	if err := srv.Serve(lis); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: serve: %v\n", err)
		os.Exit(1)
	}
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// packageJSON holds the package.json fields we read.
type packageJSON struct {
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	Dependencies map[string]string `json:"dependencies"`
	Pulumi       struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"pulumi"`
}

type pluginRef struct{ name, version, server string }

// findPlugins walks node_modules below dir (and the node_modules folders of
// its parents, as Node's resolution does) for packages that ship a resource
// plugin.
func findPlugins(dir string) []pluginRef {
	seen := map[string]pluginRef{}
	visited := map[string]bool{}
	var walk func(nm string, depth int)
	walk = func(nm string, depth int) {
		if depth > 8 || visited[nm] {
			return
		}
		visited[nm] = true
		entries, err := os.ReadDir(nm)
		if err != nil {
			return
		}
		for _, e := range entries {
			pkgDirs := []string{filepath.Join(nm, e.Name())}
			if strings.HasPrefix(e.Name(), "@") {
				scoped, _ := os.ReadDir(pkgDirs[0])
				pkgDirs = pkgDirs[:0]
				for _, s := range scoped {
					pkgDirs = append(pkgDirs, filepath.Join(nm, e.Name(), s.Name()))
				}
			}
			for _, pd := range pkgDirs {
				if b, err := os.ReadFile(filepath.Join(pd, "package.json")); err == nil {
					var p packageJSON
					if json.Unmarshal(b, &p) == nil && p.Pulumi.Resource {
						if ref, ok := pluginOf(p); ok {
							seen[ref.name+"@"+ref.version] = ref
						}
					}
				}
				walk(filepath.Join(pd, "node_modules"), depth+1)
			}
		}
	}
	for d := dir; ; d = filepath.Dir(d) {
		walk(filepath.Join(d, "node_modules"), 0)
		if filepath.Dir(d) == d {
			break
		}
	}
	refs := make([]pluginRef, 0, len(seen))
	for _, r := range seen {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].name+refs[i].version < refs[j].name+refs[j].version })
	return refs
}

func pluginOf(p packageJSON) (pluginRef, bool) {
	name := p.Pulumi.Name
	if name == "" {
		name = strings.TrimPrefix(strings.TrimPrefix(p.Name, "@pulumi/"), "@")
	}
	v := p.Pulumi.Version
	if v == "" {
		v = p.Version
	}
	if name == "" || v == "" {
		return pluginRef{}, false
	}
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	return pluginRef{name: name, version: v, server: p.Pulumi.Server}, true
}

func programDir(info *pulumirpc.ProgramInfo, fallback string) string {
	if info != nil && info.GetProgramDirectory() != "" {
		return info.GetProgramDirectory()
	}
	return fallback
}

func (h *host) GetRequiredPlugins(_ context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	resp := &pulumirpc.GetRequiredPluginsResponse{}
	for _, r := range findPlugins(programDir(req.GetInfo(), req.GetProgram())) {
		resp.Plugins = append(resp.Plugins, &pulumirpc.PluginDependency{
			Name: r.name, Kind: "resource", Version: r.version, Server: r.server,
		})
	}
	return resp, nil
}

func (h *host) GetRequiredPackages(_ context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	for _, r := range findPlugins(programDir(req.GetInfo(), "")) {
		resp.Packages = append(resp.Packages, &pulumirpc.PackageDependency{
			Name: r.name, Kind: "resource", Version: r.version, Server: r.server,
		})
	}
	return resp, nil
}

// options returns the runtime options of Pulumi.yaml (runtime.options).
func options(info *pulumirpc.ProgramInfo) map[string]any {
	if info == nil || info.GetOptions() == nil {
		return map[string]any{}
	}
	return info.GetOptions().AsMap()
}

func optString(opts map[string]any, key string) string {
	if v, ok := opts[key]; ok && v != nil {
		return fmt.Sprint(v)
	}
	return ""
}

// resolveModule finds a file of the @pulumi/pulumi package as Node would from dir.
func resolveModule(dir, module string) (string, error) {
	script := fmt.Sprintf("console.log(require.resolve(%q, {paths: [%q]}))", module, dir)
	cmd := exec.Command("node", "-e", script)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("cannot find %s from %s (is node_modules installed? run npm ci): %w", module, dir, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func nodeArgs(opts map[string]any) []string {
	if a := optString(opts, "nodeargs"); a != "" {
		return strings.Fields(a)
	}
	return nil
}

// runtimeEnv adds the variables the Node.js SDK reads besides its flags.
func runtimeEnv(base []string, opts map[string]any) []string {
	env := append([]string{}, base...)
	ts := optString(opts, "typescript")
	if ts == "" {
		ts = "true"
	}
	env = append(env, "PULUMI_NODEJS_TYPESCRIPT="+ts)
	if tsc := optString(opts, "tsconfig"); tsc != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+tsc)
	}
	return env
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	dir := programDir(info, req.GetPwd())
	opts := options(info)
	runPath, err := resolveModule(dir, "@pulumi/pulumi/cmd/run")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	args := append(nodeArgs(opts), runPath)
	flagArg := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	flagArg("monitor", req.GetMonitorAddress())
	flagArg("engine", h.engineAddress)
	flagArg("organization", req.GetOrganization())
	flagArg("project", req.GetProject())
	flagArg("stack", req.GetStack())
	flagArg("pwd", req.GetPwd())
	if info != nil {
		flagArg("root-directory", info.GetRootDirectory())
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	if req.GetParallel() > 0 {
		flagArg("parallel", fmt.Sprint(req.GetParallel()))
	}
	flagArg("tracing", h.tracing)

	program := req.GetProgram()
	if info != nil {
		entry := info.GetEntryPoint()
		switch {
		case entry == "" || entry == ".":
			if req.GetPwd() == dir {
				program = "." // let the SDK read package.json "main"/"exports"
			} else {
				program = dir
			}
		default:
			program = filepath.Join(dir, entry)
		}
	}
	if program == "" {
		program = "."
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	cfg := req.GetConfig()
	if cfg == nil {
		cfg = map[string]string{}
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	env := runtimeEnv(os.Environ(), opts)
	env = append(env, "PULUMI_CONFIG="+string(cfgJSON), "PULUMI_CONFIG_SECRET_KEYS="+string(secretJSON))

	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = req.GetPwd()
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := runChild(cmd); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok {
				if ws.ExitStatus() == exitCodeAlreadyReported {
					return &pulumirpc.RunResponse{Bail: true}, nil
				}
				return &pulumirpc.RunResponse{
					Error: fmt.Sprintf("Program exited with non-zero exit code: %d", ws.ExitStatus()),
				}, nil
			}
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("Problem executing program (could not run node): %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin starts a plugin written in Node.js: a policy pack (kind
// "analyzer") or a provider (kind "resource"), and streams its output.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	info := req.GetInfo()
	dir := programDir(info, req.GetProgram())
	module := "@pulumi/pulumi/cmd/run-plugin"
	if req.GetKind() == "analyzer" {
		module = "@pulumi/pulumi/cmd/run-policy-pack"
	}
	script, err := resolveModule(dir, module)
	if err != nil {
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	opts := options(info)
	args := append(nodeArgs(opts), script)
	args = append(args, req.GetArgs()...)
	args = append(args, dir)

	cmd := exec.CommandContext(server.Context(), "node", args...)
	cmd.Dir = dir
	cmd.Env = runtimeEnv(append(os.Environ(), req.GetEnv()...), opts)
	var mu sync.Mutex
	send := func(r *pulumirpc.RunPluginResponse) {
		mu.Lock()
		defer mu.Unlock()
		_ = server.Send(r)
	}
	// os/exec copies the output through these writers and Wait returns only when both copies are done.
	cmd.Stdout = writerFunc(func(b []byte) {
		send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}})
	})
	cmd.Stderr = writerFunc(func(b []byte) {
		send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}})
	})
	code := int32(0)
	if err := runChild(cmd); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return err
		}
		code = int32(exitErr.ExitCode())
	}
	send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
	return nil
}

// InstallDependencies runs `npm ci` (with a lock file) or `npm install`.
func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	dir := programDir(req.GetInfo(), req.GetDirectory())
	root := dir
	if info := req.GetInfo(); info != nil && info.GetRootDirectory() != "" {
		root = info.GetRootDirectory()
	}
	args := []string{"install"}
	if _, err := os.Stat(filepath.Join(root, "package-lock.json")); err == nil {
		args = []string{"ci"}
	}
	cmd := exec.CommandContext(server.Context(), "npm", args...)
	cmd.Dir = root
	// One writer (a pointer, so os/exec sees the same value twice and uses one pipe for both streams).
	out := &sendWriter{send: func(b []byte) {
		_ = server.Send(&pulumirpc.InstallDependenciesResponse{Stdout: b})
	}}
	cmd.Stdout = out
	cmd.Stderr = out
	return runChild(cmd)
}

// writerFunc is an io.Writer that hands each write (a copy of it) to a function.
type writerFunc func([]byte)

func (w writerFunc) Write(b []byte) (int, error) {
	w(append([]byte(nil), b...))
	return len(b), nil
}

// sendWriter is a writerFunc behind a pointer and a lock.
type sendWriter struct {
	mu   sync.Mutex
	send func([]byte)
}

func (w *sendWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.send(append([]byte(nil), b...))
	return len(b), nil
}

func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	nodePath, _ := exec.LookPath("node")
	out, _ := exec.Command("node", "--version").Output()
	return &pulumirpc.AboutResponse{
		Executable: nodePath,
		Version:    strings.TrimPrefix(strings.TrimSpace(string(out)), "v"),
	}, nil
}

func (h *host) GetProgramDependencies(_ context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	dir := programDir(req.GetInfo(), req.GetProgram())
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "package.json"))
		if err == nil {
			var p packageJSON
			if json.Unmarshal(b, &p) == nil {
				names := make([]string, 0, len(p.Dependencies))
				for n := range p.Dependencies {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					v := p.Dependencies[n]
					if ib, err := os.ReadFile(filepath.Join(d, "node_modules", n, "package.json")); err == nil {
						var ip packageJSON
						if json.Unmarshal(ib, &ip) == nil && ip.Version != "" {
							v = ip.Version
						}
					}
					resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: n, Version: v})
				}
			}
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return resp, nil
}

func (h *host) RuntimeOptionsPrompts(context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}
