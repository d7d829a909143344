// Placeholder: replaced by the module that owns this command.
import type { Command } from 'commander';
import type { SetExit } from './exit.js';

export function registerServe(_program: Command, _setExit: SetExit): void {}
