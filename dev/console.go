package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/nurture-dev/nurture/config"
	"github.com/nurture-dev/nurture/console"
)

// Demo console accounts, one a role people use; they share a password
// kept in the data folder.
const (
	demoMarketer = "marketer"
	demoSales    = "sales"
)

// demoAccounts are the console's accounts in the demo: those of
// CONSOLE_ACCOUNTS_FILE when it is set, else a marketer and a sales rep
// with a password made once and kept in the data folder. login says how to
// sign in.
func demoAccounts(cfg *config.Config, dataDir string) (console.Accounts, string, error) {
	if cfg.ConsoleAccountsFile != "" {
		as, err := console.LoadAccounts(cfg.ConsoleAccountsFile)
		return as, "accounts of " + cfg.ConsoleAccountsFile, err
	}
	password, err := keptSecret(filepath.Join(dataDir, "console-password"))
	if err != nil {
		return nil, "", err
	}
	// bcrypt reads 72 bytes at most; a kept secret is longer.
	password = password[:20]
	var lines []string
	for _, a := range []struct {
		name string
		role console.Role
	}{{demoMarketer, console.RoleMarketer}, {demoSales, console.RoleSales}} {
		line, err := console.AccountLine(a.name, a.role, password)
		if err != nil {
			return nil, "", err
		}
		lines = append(lines, line)
	}
	as, err := console.ParseAccounts(strings.NewReader(strings.Join(lines, "\n")))
	return as, fmt.Sprintf("sign in as %s or %s, password %s", demoMarketer, demoSales, password), err
}
