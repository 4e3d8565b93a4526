package fcconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// Field tags: `json:"name"` names a key; `fc:"required"` makes it
// mandatory (present and not null); `fc:"unsupported=WHAT"` accepts it
// only null or empty and refuses anything else as asking for WHAT.

// decode decodes the JSON document data into dst, a pointer to a struct,
// strictly: unknown keys, keys given twice, wrong types, missing required
// keys, values for unsupported features and trailing data are errors
// naming the key by its path from the document's root (at prefix).
func decode(data []byte, prefix string, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return syntaxError(prefix, data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return pathError(prefix, "unexpected data after the JSON value")
	}
	return decodeValue(raw, prefix, reflect.ValueOf(dst).Elem())
}

// syntaxError says where the JSON is broken, by line and column.
func syntaxError(path string, data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := position(data, se.Offset)
		return pathError(path, fmt.Sprintf("not valid JSON at line %d, column %d: %v", line, col, se))
	}
	if errors.Is(err, io.EOF) {
		return pathError(path, "empty: want a JSON object")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return pathError(path, "the JSON ends too early")
	}
	return pathError(path, "not valid JSON: "+err.Error())
}

func position(data []byte, off int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < off-1 && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// pathError is an error about the value at path ("" for the root).
func pathError(path, msg string) error {
	if path == "" {
		return errors.New(msg)
	}
	return fmt.Errorf("%s: %s", path, msg)
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// decodeValue decodes raw into v, recursing into structs and slices of
// structs so that their keys are checked too.
func decodeValue(raw json.RawMessage, path string, v reflect.Value) error {
	t := v.Type()
	switch {
	case t == rawMessageType:
		v.SetBytes(append([]byte(nil), raw...))
		return nil
	case t.Kind() == reflect.Pointer:
		if isNull(raw) {
			v.SetZero()
			return nil
		}
		p := reflect.New(t.Elem())
		if err := decodeValue(raw, path, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case t.Kind() == reflect.Struct:
		return decodeObject(raw, path, v)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		if isNull(raw) {
			v.SetZero()
			return nil
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return pathError(path, "want an array, got "+jsonKind(raw))
		}
		s := reflect.MakeSlice(t, len(items), len(items))
		for i, item := range items {
			if err := decodeValue(item, fmt.Sprintf("%s[%d]", path, i), s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	}
	if isNull(raw) {
		return pathError(path, "null is not "+kindName(t))
	}
	if err := json.Unmarshal(raw, v.Addr().Interface()); err != nil {
		return pathError(path, fmt.Sprintf("want %s, got %s", kindName(t), jsonKind(raw)))
	}
	return nil
}

// field is a struct field as the decoder sees it.
type field struct {
	index       int
	required    bool
	unsupported string // what the key asks for, when vmm does not have it
}

func fieldsOf(t reflect.Type) map[string]field {
	out := map[string]field{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		f := field{index: i}
		for _, opt := range strings.Split(sf.Tag.Get("fc"), ";") {
			switch {
			case opt == "required":
				f.required = true
			case strings.HasPrefix(opt, "unsupported="):
				f.unsupported = strings.TrimPrefix(opt, "unsupported=")
			}
		}
		out[name] = f
	}
	return out
}

// decodeObject decodes a JSON object key by key into the struct v.
func decodeObject(raw json.RawMessage, path string, v reflect.Value) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return pathError(path, "want an object, got "+jsonKind(raw))
	}
	fields := fieldsOf(v.Type())
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return pathError(path, "not valid JSON: "+err.Error())
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return pathError(path, "not valid JSON: "+err.Error())
		}
		at := join(path, key)
		if seen[key] {
			return pathError(at, "given twice")
		}
		seen[key] = true
		f, ok := fields[key]
		if !ok {
			return unknownKey(path, key, fields)
		}
		if f.unsupported != "" && !isEmpty(val) {
			return pathError(at, fmt.Sprintf("asks for %s, which vmm does not have: remove it or leave it empty (null)", f.unsupported))
		}
		if f.required && isNull(val) {
			return pathError(at, "must not be null")
		}
		if err := decodeValue(val, at, v.Field(f.index)); err != nil {
			return err
		}
	}
	for name, f := range fields {
		if f.required && !seen[name] {
			return pathError(path, fmt.Sprintf("%q is required", name))
		}
	}
	return nil
}

// unknownKey refuses key, suggesting a known key it may be a misspelling
// of ("machine_config" for "machine-config", any case).
func unknownKey(path, key string, fields map[string]field) error {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "-", "_")) }
	msg := fmt.Sprintf("unknown key %q", key)
	for name := range fields {
		if norm(name) == norm(key) {
			msg += fmt.Sprintf(" (did you mean %q?)", name)
			break
		}
	}
	if path != "" {
		msg += " in " + path
	}
	return errors.New(msg)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// isEmpty reports whether a value asks for nothing: null, "", [] or {}.
func isEmpty(raw json.RawMessage) bool {
	switch string(bytes.Join(bytes.Fields(raw), nil)) {
	case "null", `""`, "[]", "{}":
		return true
	}
	return false
}

// jsonKind names what raw holds, for messages.
func jsonKind(raw json.RawMessage) string {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 {
		return "nothing"
	}
	switch s[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	if len(s) > 24 {
		s = append(s[:24:24], "..."...)
	}
	return "the number " + string(s)
}

// kindName names what a Go type accepts, for messages.
func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "a non-negative integer"
	case reflect.Slice:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}
