// The overview refreshes itself: every 5 s its content is fetched again and swapped in,
// without a full reload, while the tab is visible. Nothing else runs script; every action is a
// plain form.
"use strict";
(function () {
  const live = document.querySelector("[data-refresh]");
  if (!live) return;
  const url = live.getAttribute("data-refresh");
  async function refresh() {
    if (document.hidden) return;
    try {
      const resp = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      // Sent to the sign-in form (the session ended): reload, so the form shows as a page.
      if (resp.redirected) { window.location.reload(); return; }
      // 503 carries the backend's banner: shown like any other content.
      if (resp.ok || resp.status === 503) live.innerHTML = await resp.text();
    } catch (e) {
      live.setAttribute("data-stale", "true");
    }
  }
  setInterval(refresh, 5000);
})();
