package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/jit-access/jit/pkg/api"
)

// decode reads an API body into v, strictly: exactly one JSON value, no
// unknown fields, no duplicate keys at any depth (encoding/json would keep
// the last one silently, so a proxy or log that reads the first sees another
// request than the server acts on), and nothing after the value. An empty
// body means all defaults. Every refusal is an *api.Error (400) that says
// what was wrong, or the body limit's *http.MaxBytesError.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var maxBytes *http.MaxBytesError
		if errors.As(err, &maxBytes) {
			return err
		}
		return badBody(fmt.Errorf("read body: %w", err))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil // an empty body means all defaults
	}
	if err := checkDuplicateKeys(body); err != nil {
		return badBody(err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badBody(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badBody(fmt.Errorf("trailing data after the JSON value at offset %d", dec.InputOffset()))
	}
	return nil
}

// maxBodyDepth bounds how deeply a body's objects and arrays may nest; the
// API's own bodies are two levels deep.
const maxBodyDepth = 16

func badBody(err error) error {
	return &api.Error{Code: api.CodeInvalid, Message: "bad JSON body: " + err.Error(),
		Hint: "send exactly one JSON object with each key once (see docs/api.md)"}
}

// checkDuplicateKeys walks the first JSON value in data token by token and
// refuses an object that names a key twice (ignoring case, as the
// decoder does), at any depth, and nesting deeper than maxBodyDepth. The
// path in an error is built only then, so the walk stays linear. Syntax
// errors are left to the decoder that runs next.
func checkDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var path []string // the keys and indexes above the value being walked
	where := func() string { return "the body" + strings.Join(path, "") }
	var walk func() error
	walk = func() error {
		tok, err := dec.Token()
		if err != nil {
			return nil // a syntax error: json.Decoder.Decode reports it
		}
		if tok == json.Delim('{') || tok == json.Delim('[') {
			if len(path) >= maxBodyDepth {
				return fmt.Errorf("%s is nested deeper than %d levels", where(), maxBodyDepth)
			}
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil
				}
				key, ok := kt.(string)
				if !ok {
					return nil
				}
				// encoding/json matches field names with Unicode case
				// folding, so "role", "Role" and "rolE" fill one field, and
				// so do "reason" and "rea\u017fon" (ſ folds to s).
				folded := foldKey(key)
				if seen[folded] {
					return fmt.Errorf("duplicate key %q in %s", key, where())
				}
				seen[folded] = true
				path = append(path, "."+key)
				err = walk()
				path = path[:len(path)-1]
				if err != nil {
					return err
				}
			}
			_, _ = dec.Token() // '}'
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				path = append(path, "["+strconv.Itoa(i)+"]")
				err := walk()
				path = path[:len(path)-1]
				if err != nil {
					return err
				}
			}
			_, _ = dec.Token() // ']'
		}
		return nil
	}
	return walk()
}

// foldKey maps key to one representative of its case-folding class: every
// rune becomes the smallest rune of its unicode.SimpleFold orbit, so two keys
// have the same foldKey exactly when bytes.EqualFold (which encoding/json
// uses to match field names) says they are equal.
func foldKey(key string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, key)
}
