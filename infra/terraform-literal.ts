/**
 * `text` spelled so that Terraform passes it on unchanged. In Terraform's JSON syntax (what CDKTF writes) every
 * string is a template: `${…}` is evaluated as an expression and `%{…}` as a directive, and only `$${` and `%%{`
 * stand for the characters themselves. CDKTF does not escape plain strings, so text that carries `${…}` for
 * someone else — a workflow source (Workflows expressions), a client's registry object (container commands
 * such as `${BATCHLINE_INPUT_PATH}`), an alert's documentation (Cloud Monitoring's `${metric.label.client}`)
 * — must go through here, or `terraform plan` fails on a reference that was never declared.
 * Never pass a string holding CDKTF tokens (resource attributes): their references must stay live.
 */
export function terraformLiteral(text: string): string {
  // A replacer function, not a replacement string: in one, "$$" would itself stand for a single "$".
  return text.replace(/\$\{/g, () => "$${").replace(/%\{/g, () => "%%{");
}
