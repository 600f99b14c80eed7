// Command pm-image builds OCI images from files and directories, without a Docker engine, and pushes them to the
// local registry under their upstream names. scripts/images writes a JSON spec (see Spec) and runs
//
//	pm-image build SPEC.json     build every image of the spec, push what the registry lacks, write served.json
//	pm-image served SPEC.json    only (re)write served.json from what the registry serves
//
// Layers are deterministic tar streams (sorted paths, one fixed time, owners from the spec), so the same inputs
// give the same digests on every machine. They are cached by content: a layer's inputs (paths, modes, sizes,
// modification times, link targets, inline contents) are hashed first, and a layer whose inputs were seen
// before is taken from the cache without reading its files; otherwise it is written once, gzip-compressed, and
// stored under its digest. A tag whose manifest digest the registry already serves is not pushed again.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Spec is what scripts/images hands over.
type Spec struct {
	// Registry is the local registry, host:port (http, loopback); empty: build into the cache, push nothing.
	Registry string `json:"registry"`
	// Cache is the folder of the content-addressed layer cache.
	Cache string `json:"cache"`
	// Created is the one time stamped on every file, layer and image (RFC 3339); default the Unix epoch.
	Created string `json:"created,omitempty"`
	// Served is where the list of served images is written; empty: not written.
	Served string `json:"served,omitempty"`
	// Images to build.
	Images []ImageSpec `json:"images"`
}

// ImageSpec is one image: its layers, its runtime configuration and the references it is pushed under.
type ImageSpec struct {
	Name   string      `json:"name"`
	Refs   []string    `json:"refs"`
	Layers []LayerSpec `json:"layers"`
	Config ConfigSpec  `json:"config"`
}

// LayerSpec is one layer: entries applied in order (a later entry replaces an earlier one at the same path).
type LayerSpec struct {
	Comment string  `json:"comment"`
	Entries []Entry `json:"entries"`
}

// Entry puts one thing into a layer at Dst: the tree of a directory Src, a file Src, an inline file Content, an
// empty directory (Dir) or a symbolic link (Symlink). Files are owned by UID:GID (default root, so that the
// non-root user of the image cannot change them).
type Entry struct {
	Src     string  `json:"src,omitempty"`
	Dst     string  `json:"dst"`
	Content *string `json:"content,omitempty"`
	Dir     bool    `json:"dir,omitempty"`
	Symlink string  `json:"symlink,omitempty"`
	// Mode overrides the permission bits (octal text) of a file, inline file or directory entry.
	Mode string `json:"mode,omitempty"`
	UID  int    `json:"uid,omitempty"`
	GID  int    `json:"gid,omitempty"`
}

// ConfigSpec is the image's runtime configuration.
type ConfigSpec struct {
	User         string            `json:"user"`
	Entrypoint   []string          `json:"entrypoint,omitempty"`
	Cmd          []string          `json:"cmd,omitempty"`
	Env          []string          `json:"env,omitempty"`
	WorkingDir   string            `json:"workingDir,omitempty"`
	ExposedPorts []string          `json:"exposedPorts,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	StopSignal   string            `json:"stopSignal,omitempty"`
}

func main() {
	if len(os.Args) != 3 || (os.Args[1] != "build" && os.Args[1] != "served") {
		fmt.Fprintln(os.Stderr, "usage: pm-image build|served SPEC.json")
		os.Exit(2)
	}
	spec, err := readSpec(os.Args[2])
	if err == nil {
		if os.Args[1] == "build" {
			err = buildAll(spec)
		}
		if err == nil && spec.Served != "" {
			err = writeServed(spec)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pm-image:", err)
		os.Exit(1)
	}
}

func readSpec(file string) (*Spec, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var spec Spec
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if spec.Cache == "" {
		return nil, fmt.Errorf("%s: cache is required", file)
	}
	if spec.Registry == "" && spec.Served != "" {
		return nil, fmt.Errorf("%s: served needs a registry", file)
	}
	return &spec, nil
}

func (s *Spec) created() (time.Time, error) {
	if s.Created == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	return time.Parse(time.RFC3339, s.Created)
}

func buildAll(spec *Spec) error {
	created, err := spec.created()
	if err != nil {
		return fmt.Errorf("created: %w", err)
	}
	cache := &layerCache{dir: spec.Cache, created: created}
	if err := os.MkdirAll(filepath.Join(spec.Cache, "blobs"), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(spec.Cache, "inputs"), 0o755); err != nil {
		return err
	}
	var problems []string
	for i := range spec.Images {
		if err := buildOne(spec, &spec.Images[i], cache, created); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", spec.Images[i].Name, err))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d image(s) failed:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	return nil
}

func buildOne(spec *Spec, is *ImageSpec, cache *layerCache, created time.Time) error {
	start := time.Now()
	if len(is.Refs) == 0 {
		return fmt.Errorf("no refs")
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	built, reused := 0, 0
	for _, ls := range is.Layers {
		l, fresh, err := cache.layer(ls)
		if err != nil {
			return fmt.Errorf("layer %q: %w", ls.Comment, err)
		}
		if fresh {
			built++
		} else {
			reused++
		}
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:     l,
			MediaType: types.OCILayer,
			History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: ls.Comment, Comment: "pm-image"},
		})
		if err != nil {
			return err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Created = v1.Time{Time: created}
	cf.Config = v1.Config{
		User:       is.Config.User,
		Entrypoint: is.Config.Entrypoint,
		Cmd:        is.Config.Cmd,
		Env:        is.Config.Env,
		WorkingDir: is.Config.WorkingDir,
		Labels:     is.Config.Labels,
		StopSignal: is.Config.StopSignal,
	}
	if len(is.Config.ExposedPorts) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range is.Config.ExposedPorts {
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	if cf.Config.User == "" || cf.Config.User == "0" || strings.HasPrefix(cf.Config.User, "0:") || strings.HasPrefix(cf.Config.User, "root") {
		return fmt.Errorf("config.user %q: every image runs as a numeric non-root user", cf.Config.User)
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	pushed := 0
	for _, ref := range is.Refs {
		if spec.Registry == "" {
			break
		}
		local, err := localRef(spec.Registry, ref)
		if err != nil {
			return err
		}
		if desc, err := remote.Head(local); err == nil && desc.Digest == digest {
			continue
		}
		if err := remote.Write(local, img); err != nil {
			return fmt.Errorf("push %s: %w", local, err)
		}
		pushed++
	}
	state := "cached"
	if spec.Registry == "" {
		state = "not pushed"
	} else if pushed > 0 {
		state = fmt.Sprintf("pushed %d tag(s)", pushed)
	}
	fmt.Printf("[images] %-24s %s  layers %d built / %d cached, %s, %.1fs\n", is.Name, digest.String()[:19], built,
		reused, state, time.Since(start).Seconds())
	return nil
}

// localRef maps an upstream reference to the local registry: <registry>/<upstream host>/<repository>:<tag>, the
// layout containerd's mirrors use (override_path), so that equal repository names of two upstream registries
// never collide. Docker Hub is "docker.io" (its library/ prefix included).
func localRef(registry, ref string) (name.Tag, error) {
	if strings.Contains(ref, "@") {
		return name.Tag{}, fmt.Errorf("reference %q: the local registry serves tags, not digests", ref)
	}
	up, err := name.NewTag(ref, name.WeakValidation)
	if err != nil {
		return name.Tag{}, fmt.Errorf("reference %q: %w", ref, err)
	}
	host := up.RegistryStr()
	if host == name.DefaultRegistry {
		host = "docker.io"
	}
	return name.NewTag(fmt.Sprintf("%s/%s/%s:%s", registry, host, up.RepositoryStr(), up.TagStr()), name.Insecure)
}

// stackName is the reverse of localRef: the reference as a stack names it ("prom/prometheus:v3.13.1",
// "elasticsearch:8.19.22", "registry.k8s.io/pause:3.10.2").
func stackName(localRepo, tag string) string {
	host, repo, ok := strings.Cut(localRepo, "/")
	if !ok {
		return localRepo + ":" + tag
	}
	if host == "docker.io" {
		return strings.TrimPrefix(repo, "library/") + ":" + tag
	}
	return host + "/" + repo + ":" + tag
}

// Served is the file the local cluster's placement rule reads.
type Served struct {
	Registry string `json:"registry"`
	// Images are the references exactly as the stacks write them, sorted: each tag ("prom/prometheus:v3.13.1"),
	// and each tag and repository pinned by the digest served ("prom/prometheus:v3.13.1@sha256:...",
	// "prom/prometheus@sha256:..."), the form production stacks write.
	Images []string `json:"images"`
	// Entries say where and under which digest each one is served.
	Entries []ServedImage `json:"entries"`
}

// ServedImage is one tag the local registry serves.
type ServedImage struct {
	// Name is the reference as the stacks write it.
	Name string `json:"name"`
	// Normalized is the fully qualified reference (docker.io/prom/prometheus:v3.13.1).
	Normalized string `json:"normalized"`
	// Local is where the local registry serves it.
	Local string `json:"local"`
	// Digest is the manifest digest.
	Digest string `json:"digest"`
}

// writeServed lists what the registry really serves (its catalog and tags), not what the spec asked for.
func writeServed(spec *Spec) error {
	reg, err := name.NewRegistry(spec.Registry, name.Insecure)
	if err != nil {
		return err
	}
	repos, err := remote.Catalog(context.Background(), reg)
	if err != nil {
		return fmt.Errorf("catalog of %s: %w", spec.Registry, err)
	}
	out := Served{Registry: spec.Registry, Images: []string{}, Entries: []ServedImage{}}
	for _, r := range repos {
		repo, err := name.NewRepository(spec.Registry+"/"+r, name.Insecure)
		if err != nil {
			return err
		}
		tags, err := remote.List(repo)
		if err != nil {
			return fmt.Errorf("tags of %s: %w", r, err)
		}
		for _, t := range tags {
			desc, err := remote.Head(repo.Tag(t))
			if err != nil {
				return fmt.Errorf("%s:%s: %w", r, t, err)
			}
			host, rest, _ := strings.Cut(r, "/")
			out.Entries = append(out.Entries, ServedImage{
				Name:       stackName(r, t),
				Normalized: host + "/" + rest + ":" + t,
				Local:      repo.Tag(t).String(),
				Digest:     desc.Digest.String(),
			})
		}
	}
	sort.Slice(out.Entries, func(i, j int) bool { return out.Entries[i].Name < out.Entries[j].Name })
	seen := map[string]bool{}
	for _, e := range out.Entries {
		repo := e.Name[:strings.LastIndex(e.Name, ":")]
		for _, ref := range []string{e.Name, e.Name + "@" + e.Digest, repo + "@" + e.Digest} {
			if !seen[ref] {
				seen[ref] = true
				out.Images = append(out.Images, ref)
			}
		}
	}
	sort.Strings(out.Images)
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(spec.Served), 0o755); err != nil {
		return err
	}
	tmp := spec.Served + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, spec.Served)
}

// ---- layers ----------------------------------------------------------------------------------------------

type layerCache struct {
	dir     string
	created time.Time
}

// item is one tar entry.
type item struct {
	path     string // inside the image, no leading slash
	kind     byte   // tar type flag
	mode     int64
	uid, gid int
	src      string // file on disk (regular files)
	content  []byte // inline file content
	size     int64
	link     string
}

type cachedLayer struct {
	DiffID string `json:"diffID"`
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// layer returns the layer of ls from the cache, or builds it; fresh says whether it was built now.
func (c *layerCache) layer(ls LayerSpec) (v1.Layer, bool, error) {
	items, key, err := collect(ls)
	if err != nil {
		return nil, false, err
	}
	inputs := filepath.Join(c.dir, "inputs", key+".json")
	if data, err := os.ReadFile(inputs); err == nil {
		var cl cachedLayer
		if json.Unmarshal(data, &cl) == nil {
			if l, err := c.open(cl); err == nil {
				return l, false, nil
			}
		}
	}
	cl, err := c.write(items)
	if err != nil {
		return nil, false, err
	}
	data, _ := json.Marshal(cl)
	if err := writeAtomic(inputs, data); err != nil {
		return nil, false, err
	}
	l, err := c.open(cl)
	return l, true, err
}

func (c *layerCache) blobPath(digest string) string {
	return filepath.Join(c.dir, "blobs", strings.TrimPrefix(digest, "sha256:")+".tar.gz")
}

func (c *layerCache) open(cl cachedLayer) (v1.Layer, error) {
	p := c.blobPath(cl.Digest)
	st, err := os.Stat(p)
	if err != nil || st.Size() != cl.Size {
		return nil, fmt.Errorf("blob %s missing or truncated", cl.Digest)
	}
	d, err := v1.NewHash(cl.Digest)
	if err != nil {
		return nil, err
	}
	diff, err := v1.NewHash(cl.DiffID)
	if err != nil {
		return nil, err
	}
	return &fileLayer{path: p, digest: d, diffID: diff, size: cl.Size}, nil
}

// write streams the tar through a hash (the diffID) and gzip into a temporary file, hashed again (the digest).
func (c *layerCache) write(items []item) (cachedLayer, error) {
	tmp, err := os.CreateTemp(filepath.Join(c.dir, "blobs"), "layer-*.tmp")
	if err != nil {
		return cachedLayer{}, err
	}
	defer os.Remove(tmp.Name())
	digest := sha256.New()
	counter := &countWriter{}
	zw, err := newGzip(io.MultiWriter(tmp, digest, counter))
	if err != nil {
		return cachedLayer{}, err
	}
	diffID := sha256.New()
	if err := writeTar(io.MultiWriter(zw, diffID), items, c.created); err != nil {
		tmp.Close()
		return cachedLayer{}, err
	}
	if err := zw.Close(); err != nil {
		return cachedLayer{}, err
	}
	if err := tmp.Close(); err != nil {
		return cachedLayer{}, err
	}
	cl := cachedLayer{DiffID: hashText(diffID), Digest: hashText(digest), Size: counter.n}
	if err := os.Rename(tmp.Name(), c.blobPath(cl.Digest)); err != nil {
		return cachedLayer{}, err
	}
	return cl, nil
}

func hashText(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

func writeAtomic(file string, data []byte) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// collect resolves the entries into tar items (sorted, parents first) and the key of the layer's inputs.
func collect(ls LayerSpec) ([]item, string, error) {
	byPath := map[string]item{}
	key := sha256.New()
	fmt.Fprintf(key, "pm-image layer v1\n")
	add := func(it item) {
		byPath[it.path] = it
	}
	for _, e := range ls.Entries {
		dst := strings.TrimPrefix(path.Clean("/"+e.Dst), "/")
		mode, err := parseMode(e.Mode)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", e.Dst, err)
		}
		fmt.Fprintf(key, "entry %q %q %v %q %q %d %d\n", e.Src, dst, e.Dir, e.Symlink, e.Mode, e.UID, e.GID)
		switch {
		case e.Content != nil:
			if dst == "" {
				return nil, "", fmt.Errorf("inline content needs a file path as dst")
			}
			if mode < 0 {
				mode = 0o644
			}
			fmt.Fprintf(key, "content %d %x\n", len(*e.Content), sha256.Sum256([]byte(*e.Content)))
			add(item{path: dst, kind: '0', mode: mode, uid: e.UID, gid: e.GID, content: []byte(*e.Content),
				size: int64(len(*e.Content))})
		case e.Dir:
			if mode < 0 {
				mode = 0o755
			}
			add(item{path: dst, kind: '5', mode: mode, uid: e.UID, gid: e.GID})
		case e.Symlink != "":
			add(item{path: dst, kind: '2', mode: 0o777, uid: e.UID, gid: e.GID, link: e.Symlink})
		case e.Src != "":
			st, err := os.Lstat(e.Src)
			if err != nil {
				return nil, "", err
			}
			if !st.IsDir() {
				it, err := fileItem(e.Src, dst, st, e, mode)
				if err != nil {
					return nil, "", err
				}
				fmt.Fprintf(key, "file %q %o %d %d %q\n", dst, st.Mode(), st.Size(), st.ModTime().UnixNano(), it.link)
				add(it)
				continue
			}
			err = filepath.WalkDir(e.Src, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				rel, _ := filepath.Rel(e.Src, p)
				target := dst
				if rel != "." {
					target = strings.TrimPrefix(path.Join(dst, filepath.ToSlash(rel)), "/")
				}
				if target == "" {
					return nil
				}
				info, err := d.Info()
				if err != nil {
					return err
				}
				it, err := fileItem(p, target, info, e, -1)
				if err != nil {
					return err
				}
				if it.kind == 0 {
					return nil // device, socket or pipe: the runtime provides /dev
				}
				fmt.Fprintf(key, "tree %q %o %d %d %q\n", target, info.Mode(), info.Size(), info.ModTime().UnixNano(), it.link)
				add(it)
				return nil
			})
			if err != nil {
				return nil, "", err
			}
		default:
			return nil, "", fmt.Errorf("%s: an entry needs src, content, dir or symlink", e.Dst)
		}
	}
	// Parent directories that no entry names: root-owned 0755.
	for p := range byPath {
		for dir := path.Dir(p); dir != "." && dir != "/"; dir = path.Dir(dir) {
			if _, ok := byPath[dir]; !ok {
				byPath[dir] = item{path: dir, kind: '5', mode: 0o755}
			}
		}
	}
	items := make([]item, 0, len(byPath))
	for _, it := range byPath {
		if it.path != "" {
			items = append(items, it)
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].path < items[j].path })
	return items, hex.EncodeToString(key.Sum(nil)), nil
}

func parseMode(text string) (int64, error) {
	if text == "" {
		return -1, nil
	}
	m, err := strconv.ParseInt(text, 8, 32)
	if err != nil || m < 0 || m > 0o7777 {
		return 0, fmt.Errorf("mode %q: octal permission bits such as \"0755\"", text)
	}
	return m, nil
}

func fileItem(src, dst string, st fs.FileInfo, e Entry, mode int64) (item, error) {
	perm := int64(st.Mode().Perm())
	if st.Mode()&fs.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if st.Mode()&fs.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if st.Mode()&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	if mode >= 0 {
		perm = mode
	}
	it := item{path: dst, mode: perm, uid: e.UID, gid: e.GID}
	switch {
	case st.Mode().IsRegular():
		it.kind, it.src, it.size = '0', src, st.Size()
	case st.IsDir():
		it.kind = '5'
	case st.Mode()&fs.ModeSymlink != 0:
		link, err := os.Readlink(src)
		if err != nil {
			return item{}, err
		}
		it.kind, it.link, it.mode = '2', link, 0o777
	default:
		it.kind = 0
	}
	return it, nil
}
