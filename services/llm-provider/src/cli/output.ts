// Terminal output: ANSI colours only on a terminal with NO_COLOR unset, plain aligned tables,
// and the number formats the commands share.

export type Color = "green" | "yellow" | "red" | "dim" | "bold";

const SGR: Record<Color, [number, number]> = {
  green: [32, 39],
  yellow: [33, 39],
  red: [31, 39],
  dim: [2, 22],
  bold: [1, 22],
};

export type Paint = (text: string, color: Color | undefined) => string;

/** Colours when `stream` is a terminal and NO_COLOR is unset or empty (https://no-color.org). */
export function painter(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): Paint {
  const enabled = stream.isTTY === true && (env["NO_COLOR"] ?? "") === "";
  if (!enabled) return (text) => text;
  return (text, color) => {
    if (color === undefined) return text;
    const [on, off] = SGR[color];
    return `\u001b[${on}m${text}\u001b[${off}m`;
  };
}

export interface Cell {
  text: string;
  color?: Color | undefined;
}
export interface Column {
  title: string;
  align?: "left" | "right";
}

/** An aligned table: a header row, then one line per row; colour does not count towards width. */
export function renderTable(
  columns: readonly Column[],
  rows: readonly (Cell | string)[][],
  paint: Paint,
): string {
  const cells = rows.map((row) => row.map((cell) => (typeof cell === "string" ? { text: cell } : cell)));
  const widths = columns.map((column, index) =>
    Math.max(column.title.length, ...cells.map((row) => row[index]?.text.length ?? 0)),
  );
  const line = (row: Cell[]) =>
    row
      .map((cell, index) => {
        // The last column is not padded: no trailing blanks (coloured ones would survive trimEnd).
        const width = index === row.length - 1 ? 0 : (widths[index] ?? 0);
        const padded =
          columns[index]?.align === "right" ? cell.text.padStart(width) : cell.text.padEnd(width);
        return paint(padded, cell.color);
      })
      .join("  ")
      .trimEnd();
  const header = line(columns.map((column) => ({ text: column.title, color: "bold" as const })));
  return [header, ...cells.map(line)].join("\n") + "\n";
}

/** US dollars with enough decimals to show a fraction of a cent: `$0.000123`, `$1.25`. */
export function formatUsd(amount: number): string {
  if (amount === 0) return "$0";
  if (amount >= 0.01) return `$${amount.toFixed(2)}`;
  if (amount < 0.000_001) return "<$0.000001";
  return `$${amount.toPrecision(3).replace(/0+$/, "")}`;
}

/** A price per million tokens, input/output: `$0.15/$0.60`, or `free`. */
export function formatPricePerMillion(input: number, output: number): string {
  if (input === 0 && output === 0) return "free";
  return `$${trimPrice(input)}/$${trimPrice(output)}`;
}

/** At least two decimals (`0.60`, `2.00`), more when the price has them (`0.075`). */
function trimPrice(value: number): string {
  const cents = value.toFixed(2);
  return Number(cents) === value ? cents : String(Number(value.toPrecision(3)));
}

/** Milliseconds for people: `840 ms`, `3.2 s`; sub-millisecond values keep two decimals. */
export function formatMs(ms: number): string {
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  return `${(ms / 1_000).toFixed(1)} s`;
}

/** A count of tokens with thousands separators: `12,345`. */
export function formatCount(count: number): string {
  return count.toLocaleString("en-US");
}

export function yesNo(value: boolean | undefined): Cell {
  return value === true ? { text: "yes", color: "green" } : { text: "-", color: "dim" };
}
