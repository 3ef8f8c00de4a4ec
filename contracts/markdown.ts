/** Markdown shared by the reports and the Web UI details. Pure and workflow-safe. */

/** Escapes text from data (slice values, warnings) so it cannot break a table or inject links or HTML. */
export function escapeMarkdown(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').replace(/[\\`*_[\]<>|#!]/g, '\\$&');
}
