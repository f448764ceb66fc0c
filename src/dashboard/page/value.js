/*
 * The "Value accepted" card: the value of the orders accepted over the last minute, per currency,
 * by currency code, as the service formats it (the currency's own digits). Rebuilt on each poll: a few
 * rows, nothing to click. `data-currencies` on the list is what the tests read.
 */

const $ = (id) => document.getElementById(id);

/** One row per currency: its code and the amount, grouped by thousands. */
export const drawValue = (rows, windowS) => {
  $("value-window").textContent = `(last ${windowS} s)`;
  const list = $("value-accepted");
  list.dataset.currencies = rows.map((row) => row.currency).join(",");
  list.replaceChildren(
    ...rows.map(({ currency, amount }) => {
      const item = document.createElement("li");
      item.className = "value-row";
      const code = document.createElement("span");
      code.className = "value-currency";
      code.textContent = currency;
      const figure = document.createElement("span");
      figure.className = "value-amount";
      figure.textContent = grouped(amount);
      item.append(code, figure);
      return item;
    }),
  );
  $("value-empty").hidden = rows.length > 0;
};

/** "1234567.50" as "1,234,567.50": the digits are the service's, only grouped (no float rounding). */
const grouped = (amount) => {
  const [whole, fraction] = amount.split(".");
  const digits = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return fraction === undefined ? digits : `${digits}.${fraction}`;
};
