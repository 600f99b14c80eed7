// Command pulumi-resource-random is PaveMaster's own, native stand-in for the
// Pulumi "random" resource provider, speaking the same resource tokens and
// property names as @pulumi/random 4.21.1.
//
// Why it exists: the upstream provider (a bridged Terraform provider) is not
// served by the Go module proxy we may use, so scripts/toolchain builds this
// one and installs it as resource plugin "random" 4.21.1. Semantics follow the
// upstream resources: every input forces a replacement, results are generated
// once at creation and then kept in the state, `keepers` only trigger
// replacement. Supported: RandomPassword, RandomString, RandomId,
// RandomInteger, RandomBytes, RandomPet, RandomShuffle, RandomUuid,
// RandomUuid4, RandomUuid7.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"math/big"
	mrand "math/rand"
	"net"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// version is set with -ldflags "-X main.version=..." by scripts/toolchain.
var version = "0.0.0-dev"

// unknown is the engine's sentinel for a value that is not known during preview.
const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

type provider struct {
	pulumirpc.UnimplementedResourceProviderServer
}

func main() {
	// The engine passes these flags and its address as the last argument; none of them is needed here.
	_ = flag.String("tracing", "", "ignored")
	_ = flag.Bool("logtostderr", false, "ignored")
	_ = flag.Int("v", 0, "ignored")
	flag.Parse()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-random: listen: %v\n", err)
		os.Exit(1)
	}
	srv := grpc.NewServer()
	pulumirpc.RegisterResourceProviderServer(srv, &provider{})
	fmt.Printf("%d\n", lis.Addr().(*net.TCPAddr).Port)
	if err := srv.Serve(lis); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-random: serve: %v\n", err)
		os.Exit(1)
	}
}

func (p *provider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (p *provider) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: fmt.Sprintf(`{"name":"random","version":%q}`, version)}, nil
}

func (p *provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *provider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *provider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{SupportsPreview: true}, nil
}

func (p *provider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// kind returns the resource name of a URN ("...::random:index/randomPassword:RandomPassword::name").
func kind(urn string) string {
	parts := strings.Split(urn, "::")
	if len(parts) < 4 {
		return ""
	}
	t := parts[len(parts)-2]
	if i := strings.LastIndex(t, "$"); i >= 0 {
		t = t[i+1:]
	}
	if i := strings.LastIndex(t, ":"); i >= 0 {
		return t[i+1:]
	}
	return t
}

var defaults = map[string]map[string]any{
	"RandomPassword": {"lower": true, "upper": true, "numeric": true, "special": true,
		"minLower": 0.0, "minUpper": 0.0, "minNumeric": 0.0, "minSpecial": 0.0},
	"RandomString": {"lower": true, "upper": true, "numeric": true, "special": true,
		"minLower": 0.0, "minUpper": 0.0, "minNumeric": 0.0, "minSpecial": 0.0},
	"RandomPet": {"length": 2.0, "separator": "-"},
}

func (p *provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	k := kind(req.GetUrn())
	news := req.GetNews().AsMap()
	for key, v := range defaults[k] {
		if _, ok := news[key]; !ok {
			news[key] = v
		}
	}
	if k == "RandomPassword" || k == "RandomString" {
		// "number" is the deprecated spelling of "numeric"; keep them equal.
		if n, ok := news["number"]; ok {
			news["numeric"] = n
		} else {
			news["number"] = news["numeric"]
		}
	}
	var failures []*pulumirpc.CheckFailure
	need := map[string][]string{
		"RandomPassword": {"length"}, "RandomString": {"length"}, "RandomId": {"byteLength"},
		"RandomInteger": {"min", "max"}, "RandomBytes": {"length"}, "RandomShuffle": {"inputs"},
	}
	for _, key := range need[k] {
		if _, ok := news[key]; !ok {
			failures = append(failures, &pulumirpc.CheckFailure{Property: key, Reason: "missing required property '" + key + "'"})
		}
	}
	if k == "" || !known[k] {
		return nil, status.Errorf(codes.InvalidArgument, "unknown resource type in %s", req.GetUrn())
	}
	inputs, err := structpb.NewStruct(news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, nil
}

var known = map[string]bool{
	"RandomPassword": true, "RandomString": true, "RandomId": true, "RandomInteger": true, "RandomBytes": true,
	"RandomPet": true, "RandomShuffle": true, "RandomUuid": true, "RandomUuid4": true, "RandomUuid7": true,
}

// outputs that the provider computes, per resource; every other property is an input.
var computed = map[string][]string{
	"RandomPassword": {"result", "bcryptHash"},
	"RandomString":   {"result"},
	"RandomId":       {"b64Std", "b64Url", "dec", "hex"},
	"RandomInteger":  {"result"},
	"RandomBytes":    {"base64", "hex"},
	"RandomPet":      {},
	"RandomShuffle":  {"results"},
	"RandomUuid":     {"result"},
	"RandomUuid4":    {"result"},
	"RandomUuid7":    {"result"},
}

func inputsOf(k string, m map[string]any) map[string]any {
	out := map[string]any{}
	skip := map[string]bool{"id": true}
	for _, c := range computed[k] {
		skip[c] = true
	}
	for key, v := range m {
		if !skip[key] {
			out[key] = v
		}
	}
	return out
}

func (p *provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	k := kind(req.GetUrn())
	olds := inputsOf(k, req.GetOlds().AsMap())
	if oi := req.GetOldInputs(); oi != nil && len(oi.GetFields()) > 0 {
		olds = inputsOf(k, oi.AsMap())
	}
	news := inputsOf(k, req.GetNews().AsMap())
	keys := map[string]bool{}
	for key := range olds {
		keys[key] = true
	}
	for key := range news {
		keys[key] = true
	}
	var changed []string
	for key := range keys {
		if !reflect.DeepEqual(olds[key], news[key]) {
			changed = append(changed, key)
		}
	}
	sort.Strings(changed)
	if len(changed) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	detailed := map[string]*pulumirpc.PropertyDiff{}
	for _, key := range changed {
		detailed[key] = &pulumirpc.PropertyDiff{Kind: pulumirpc.PropertyDiff_UPDATE_REPLACE, InputDiff: true}
	}
	return &pulumirpc.DiffResponse{
		Changes: pulumirpc.DiffResponse_DIFF_SOME, Replaces: changed, Diffs: changed,
		DetailedDiff: detailed, HasDetailedDiff: true,
	}, nil
}

func num(m map[string]any, key string, def float64) float64 {
	if v, ok := m[key].(float64); ok {
		return v
	}
	return def
}

func boolean(m map[string]any, key string, def bool) bool {
	if v, ok := m[key].(bool); ok {
		return v
	}
	return def
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func randInt(n int) (int, error) {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(v.Int64()), nil
}

func randFrom(chars string, n int) (string, error) {
	b := make([]byte, n)
	for i := range b {
		j, err := randInt(len(chars))
		if err != nil {
			return "", err
		}
		b[i] = chars[j]
	}
	return string(b), nil
}

// randomString follows the upstream algorithm: the minimums first, then the
// rest from every enabled class, then a shuffle.
func randomString(in map[string]any) (string, error) {
	const lower, upper, digits = "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789"
	special := "!@#$%&*()-_=+[]{}<>:?"
	if o, ok := in["overrideSpecial"].(string); ok && o != "" {
		special = o
	}
	length := int(num(in, "length", 0))
	if length < 1 {
		return "", fmt.Errorf("length must be at least 1")
	}
	var all strings.Builder
	var result []byte
	classes := []struct {
		on    bool
		chars string
		min   int
	}{
		{boolean(in, "lower", true), lower, int(num(in, "minLower", 0))},
		{boolean(in, "upper", true), upper, int(num(in, "minUpper", 0))},
		{boolean(in, "numeric", boolean(in, "number", true)), digits, int(num(in, "minNumeric", 0))},
		{boolean(in, "special", true), special, int(num(in, "minSpecial", 0))},
	}
	for _, c := range classes {
		if !c.on {
			continue
		}
		all.WriteString(c.chars)
		s, err := randFrom(c.chars, c.min)
		if err != nil {
			return "", err
		}
		result = append(result, s...)
	}
	if all.Len() == 0 {
		return "", fmt.Errorf("at least one character class must be enabled")
	}
	if rest := length - len(result); rest > 0 {
		s, err := randFrom(all.String(), rest)
		if err != nil {
			return "", err
		}
		result = append(result, s...)
	}
	for i := len(result) - 1; i > 0; i-- {
		j, err := randInt(i + 1)
		if err != nil {
			return "", err
		}
		result[i], result[j] = result[j], result[i]
	}
	return string(result), nil
}

func uuid4() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return formatUUID(b), nil
}

func uuid7() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	ms := uint64(time.Now().UnixMilli())
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], ms)
	copy(b[0:6], ts[2:8])
	b[6] = (b[6] & 0x0f) | 0x70
	b[8] = (b[8] & 0x3f) | 0x80
	return formatUUID(b), nil
}

func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

var petAdjectives = strings.Fields(`able active amazing awake brave bright busy calm careful charming clever cool
	cosmic curious daring eager easy fancy fast fine fluent frank free fresh funny gentle glad golden good grand happy
	helpful honest humble jolly keen kind large lively loved lucky magical mellow merry modest neat nice noble polite
	proud quick quiet rapid ready regal relaxed sharp shining smart smooth solid sound special stable steady sunny
	super sweet swift tender tidy touched trusty upward valid vast warm wise witty worthy`)

var petNames = strings.Fields(`ant ape badger bat bear bee bison boar buffalo camel cat cheetah chicken cobra
	colt condor cow crab crane crow deer dingo dodo dog dolphin dove duck eagle eel elk emu falcon ferret finch fish
	fly fox frog gator gecko gibbon goat goose gopher hare hawk hen heron horse hound ibex jackal jaguar jay kiwi
	koala lamb lark lemur lion llama lobster lynx macaw mako mammoth marmot mink mole moose moth mouse mule newt
	ocelot orca osprey otter owl ox panda panther parrot pelican penguin pig pony puma quail rabbit ram raven seal
	shark sheep skunk sloth snail snake sparrow squid stag swan tiger toad trout turkey turtle viper wasp whale
	wolf wombat worm yak zebra`)

func pet(in map[string]any) (string, error) {
	n := int(num(in, "length", 2))
	if n < 1 {
		n = 1
	}
	words := make([]string, 0, n+1)
	if prefix := str(in, "prefix"); prefix != "" {
		words = append(words, prefix)
	}
	for i := 0; i < n-1; i++ {
		j, err := randInt(len(petAdjectives))
		if err != nil {
			return "", err
		}
		words = append(words, petAdjectives[j])
	}
	j, err := randInt(len(petNames))
	if err != nil {
		return "", err
	}
	words = append(words, petNames[j])
	sep := "-"
	if s, ok := in["separator"].(string); ok {
		sep = s
	}
	return strings.Join(words, sep), nil
}

func seeded(seed string) *mrand.Rand {
	var h uint64 = 1469598103934665603
	for _, c := range []byte(seed) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return mrand.New(mrand.NewSource(int64(h))) //nolint:gosec // deterministic by design when a seed is given
}

// generate computes the outputs and the ID of a new resource.
func generate(k string, in map[string]any) (map[string]any, string, error) {
	out := map[string]any{}
	for key, v := range in {
		out[key] = v
	}
	switch k {
	case "RandomPassword", "RandomString":
		s, err := randomString(in)
		if err != nil {
			return nil, "", err
		}
		out["result"] = s
		if k == "RandomString" {
			return out, s, nil
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(s), bcrypt.DefaultCost)
		if err != nil {
			return nil, "", err
		}
		out["bcryptHash"] = string(hash)
		return out, "none", nil
	case "RandomId":
		n := int(num(in, "byteLength", 0))
		if n < 1 {
			return nil, "", fmt.Errorf("byteLength must be at least 1")
		}
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			return nil, "", err
		}
		prefix := str(in, "prefix")
		out["b64Std"] = prefix + base64.StdEncoding.EncodeToString(b)
		b64url := base64.RawURLEncoding.EncodeToString(b)
		out["b64Url"] = prefix + b64url
		out["hex"] = prefix + hex.EncodeToString(b)
		out["dec"] = prefix + new(big.Int).SetBytes(b).String()
		return out, b64url, nil
	case "RandomInteger":
		lo, hi := int64(num(in, "min", 0)), int64(num(in, "max", 0))
		if hi < lo {
			return nil, "", fmt.Errorf("minimum value needs to be smaller than or equal to maximum value")
		}
		var v int64
		if seed := str(in, "seed"); seed != "" {
			v = lo + seeded(seed).Int63n(hi-lo+1)
		} else {
			r, err := rand.Int(rand.Reader, big.NewInt(hi-lo+1))
			if err != nil {
				return nil, "", err
			}
			v = lo + r.Int64()
		}
		out["result"] = float64(v)
		return out, strconv.FormatInt(v, 10), nil
	case "RandomBytes":
		n := int(num(in, "length", 0))
		if n < 1 {
			return nil, "", fmt.Errorf("length must be at least 1")
		}
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			return nil, "", err
		}
		out["base64"] = base64.StdEncoding.EncodeToString(b)
		out["hex"] = hex.EncodeToString(b)
		return out, "none", nil
	case "RandomPet":
		s, err := pet(in)
		if err != nil {
			return nil, "", err
		}
		return out, s, nil
	case "RandomShuffle":
		items := []any{}
		if l, ok := in["inputs"].([]any); ok {
			items = append(items, l...)
		}
		var r *mrand.Rand
		if seed := str(in, "seed"); seed != "" {
			r = seeded(seed)
		} else {
			var b [8]byte
			if _, err := rand.Read(b[:]); err != nil {
				return nil, "", err
			}
			r = mrand.New(mrand.NewSource(int64(binary.LittleEndian.Uint64(b[:]) & math.MaxInt64))) //nolint:gosec
		}
		r.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
		if c := int(num(in, "resultCount", float64(len(items)))); c >= 0 && c < len(items) {
			items = items[:c]
		}
		out["results"] = items
		return out, "-", nil
	case "RandomUuid", "RandomUuid4", "RandomUuid7":
		gen := uuid4
		if k == "RandomUuid7" {
			gen = uuid7
		}
		s, err := gen()
		if err != nil {
			return nil, "", err
		}
		out["result"] = s
		return out, s, nil
	}
	return nil, "", fmt.Errorf("unknown resource type %q", k)
}

func (p *provider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	k := kind(req.GetUrn())
	in := req.GetProperties().AsMap()
	if req.GetPreview() {
		out := map[string]any{}
		for key, v := range in {
			out[key] = v
		}
		for _, c := range computed[k] {
			out[c] = unknown
		}
		props, err := structpb.NewStruct(out)
		if err != nil {
			return nil, err
		}
		return &pulumirpc.CreateResponse{Properties: props}, nil
	}
	out, id, err := generate(k, in)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	props, err := structpb.NewStruct(out)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

func (p *provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	props := req.GetProperties()
	inputs := req.GetInputs()
	if inputs == nil || len(inputs.GetFields()) == 0 {
		if props != nil {
			m, err := structpb.NewStruct(inputsOf(kind(req.GetUrn()), props.AsMap()))
			if err != nil {
				return nil, err
			}
			inputs = m
		}
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: props, Inputs: inputs}, nil
}

func (p *provider) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	// Every input forces a replacement, so an update only carries the kept outputs over.
	k := kind(req.GetUrn())
	out := req.GetNews().AsMap()
	olds := req.GetOlds().AsMap()
	for _, c := range computed[k] {
		if v, ok := olds[c]; ok {
			out[c] = v
		}
	}
	props, err := structpb.NewStruct(out)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

func (p *provider) Delete(context.Context, *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}
