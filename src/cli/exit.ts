/** Exit codes shared by every command. */
export const EXIT_OK = 0;
export const EXIT_ALERTS = 1;
export const EXIT_USAGE = 2;

/** Every command module exports `registerX(program, setExit)`; setExit records the command's exit code. */
export type SetExit = (code: number) => void;
