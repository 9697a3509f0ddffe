//go:build linux

package keyread

import (
	"errors"
	"fmt"

	"github.com/godbus/dbus"
	"github.com/gsterjov/go-libsecret"
)

// collection is the Secret Service collection credcache writes to.
const collection = libsecret.DBusPath + "/collection/login"

// kwalletName is the bus name of the KWallet daemon the library talks to.
const kwalletName = "org.kde.kwalletd5"

type secretService struct {
	conn    *dbus.Conn
	session *libsecret.Session
}

// openSecretService connects to the session bus (the one bus connection
// this package ever makes) and opens a plain Secret Service session.
func openSecretService() (*secretService, error) {
	conn, err := dbus.SessionBus()
	if err != nil {
		return nil, fmt.Errorf("session bus: %w", err)
	}
	return openOn(conn)
}

func openOn(conn *dbus.Conn) (*secretService, error) {
	s, err := openSession(conn)
	if err != nil {
		return nil, fmt.Errorf("secret service: %w", err)
	}
	return &secretService{conn: conn, session: s}, nil
}

// openSession is libsecret's Service.Open (a "plain" session, as the
// library opens it) on conn.
func openSession(conn *dbus.Conn) (*libsecret.Session, error) {
	var output dbus.Variant
	var path dbus.ObjectPath
	err := conn.Object(libsecret.DBusServiceName, libsecret.DBusPath).
		Call("org.freedesktop.Secret.Service.OpenSession", 0, "plain", dbus.MakeVariant("")).Store(&output, &path)
	if err != nil {
		return nil, err
	}
	return libsecret.NewSession(conn, path), nil
}

// get finds the item by its "profile" attribute, as the library stores it,
// in the login collection. A locked item is left to the full jit, which
// may unlock it.
func (s *secretService) get(key string) ([]byte, bool, error) {
	items, err := libsecret.NewCollection(s.conn, collection).SearchItems(key)
	if noCollection(err) {
		return nil, false, nil // nothing was ever stored: the library reads this as "not found" too
	}
	if err != nil {
		return nil, false, fmt.Errorf("secret service search: %w", err)
	}
	if len(items) == 0 {
		return nil, false, nil
	}
	item := items[0]
	locked, err := item.Locked()
	if err != nil {
		return nil, false, fmt.Errorf("secret service item: %w", err)
	}
	if locked {
		return nil, false, fmt.Errorf("%w: the secret service item is locked", ErrNotSlim)
	}
	secret, err := item.GetSecret(s.session)
	if err != nil {
		return nil, false, fmt.Errorf("secret service secret: %w", err)
	}
	data, err := decodeLibraryItem(secret.Value, key)
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

// noCollection is the answer for a collection that does not exist (yet):
// gnome-keyring says UnknownMethod for a path it has no object at.
func noCollection(err error) bool {
	var de dbus.Error
	if !errors.As(err, &de) {
		return false
	}
	switch de.Name {
	case "org.freedesktop.DBus.Error.UnknownObject", "org.freedesktop.DBus.Error.UnknownMethod", "org.freedesktop.Secret.Error.NoSuchObject":
		return true
	}
	return false
}

// pickDefault mirrors the library on linux: its init registers Secret
// Service and KWallet only when dbus.SessionBus() connects (KWallet not
// with DISABLE_KWALLET=1), and Open takes the first backend that opens, in
// the order Secret Service, KWallet, keyctl.
func pickDefault(getenv func(string) string) (string, *secretService, error) {
	conn, err := dbus.SessionBus()
	if err != nil {
		return BackendKeyctl, nil, nil
	}
	if ss, err := openOn(conn); err == nil {
		return BackendSecretService, ss, nil
	}
	if getenv("DISABLE_KWALLET") != "1" {
		var has bool
		if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, kwalletName).Store(&has); err != nil || has {
			return "kwallet", nil, fmt.Errorf("%w: kwallet", ErrNotSlim)
		}
	}
	return BackendKeyctl, nil, nil
}
