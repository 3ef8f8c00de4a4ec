/** The benches' command lines: their numeric arguments, in order (words such as `ads` are left out). */
export function numericArgs(): number[] {
  return process.argv
    .slice(2)
    .filter((arg) => /^\d+$/.test(arg))
    .map(Number);
}
