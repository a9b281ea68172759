package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nurture-dev/nurture/console"
)

// runConsoleAccount prints an accounts-file line. The password comes from
// standard input, never from an argument, which other users of the machine
// could read in the process list.
func runConsoleAccount(_ context.Context, env *environment, args []string) error {
	fs, _ := flags(env, "console-account", "NAME ROLE", "Prints the line of a console account for CONSOLE_ACCOUNTS_FILE: NAME, ROLE (sales,\nmarketer or admin) and the bcrypt hash of the password read from the first\nline of standard input (12 to 72 bytes). For example:\n\n  read -rs PW; printf '%s\\n' \"$PW\" | starter console-account ada marketer >> accounts")
	args, err := positional(fs, args, 2, "name the account and its role")
	if err != nil {
		return err
	}
	if env.stdin == nil {
		return errors.New("console-account reads the password from standard input")
	}
	sc := bufio.NewScanner(env.stdin)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return fmt.Errorf("read the password: %w", err)
		}
		return errors.New("no password on standard input")
	}
	line, err := console.AccountLine(args[0], console.Role(args[1]), strings.TrimRight(sc.Text(), "\r"))
	if err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, line)
	return nil
}
