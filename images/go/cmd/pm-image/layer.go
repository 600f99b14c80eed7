package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// fileLayer is a gzip-compressed layer in the cache whose digests are known: nothing is read to push it
// unless the registry lacks the blob.
type fileLayer struct {
	path           string
	digest, diffID v1.Hash
	size           int64
}

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &readCloser{Reader: zr, close: func() error { zr.Close(); return f.Close() }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }

// newGzip compresses fast (level 1): layers are pushed over loopback, and the level changes the digest, so it
// is fixed here for reproducible digests.
func newGzip(w io.Writer) (*gzip.Writer, error) {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	zw.Header.ModTime = time.Time{}
	zw.Header.OS = 255
	return zw, nil
}

// writeTar writes items (sorted, parents first) as one deterministic tar stream.
func writeTar(w io.Writer, items []item, mtime time.Time) error {
	tw := tar.NewWriter(w)
	for _, it := range items {
		h := &tar.Header{
			Name:     it.path,
			Mode:     it.mode,
			Uid:      it.uid,
			Gid:      it.gid,
			ModTime:  mtime,
			Typeflag: it.kind,
			Format:   tar.FormatPAX,
		}
		switch it.kind {
		case '5':
			h.Name += "/"
		case '2':
			h.Linkname = it.link
		case '0':
			h.Size = it.size
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("%s: %w", it.path, err)
		}
		if it.kind != '0' {
			continue
		}
		var r io.Reader
		if it.content != nil {
			r = bytes.NewReader(it.content)
		} else {
			f, err := os.Open(it.src)
			if err != nil {
				return err
			}
			n, err := io.Copy(tw, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", it.src, err)
			}
			if n != it.size {
				return fmt.Errorf("%s changed while the layer was written", it.src)
			}
			continue
		}
		if _, err := io.Copy(tw, r); err != nil {
			return err
		}
	}
	return tw.Close()
}
