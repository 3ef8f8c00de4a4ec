import os from 'node:os';
import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { defaultRequester, registerRolloutCommands } from '../../../scripts/commands/rollout';

/** os.userInfo as it behaves for a UID with no passwd entry. */
function withoutPasswdEntry(): void {
  mock.method(os, 'userInfo', () => {
    throw Object.assign(new Error('ENOENT: no such file or directory, uv_os_get_passwd'), {
      code: 'ENOENT',
    });
  });
}

void describe('rollout commands', () => {
  void it('register without looking up the user, so a UID with no passwd entry breaks no command', (t) => {
    t.after(() => mock.restoreAll());
    withoutPasswdEntry();
    const program = new Command();
    assert.doesNotThrow(() => registerRolloutCommands(program));
    assert.ok(program.commands.some((command) => command.name() === 'rollout'));
  });

  void it('default --by to the user name', () => {
    assert.equal(defaultRequester({}), os.userInfo().username);
  });

  void it('fall back to $USER, then unknown, when the user has no passwd entry', (t) => {
    t.after(() => mock.restoreAll());
    withoutPasswdEntry();
    assert.equal(defaultRequester({ USER: 'ci-runner' }), 'ci-runner');
    assert.equal(defaultRequester({}), 'unknown');
  });
});
