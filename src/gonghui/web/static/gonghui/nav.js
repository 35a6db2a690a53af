// The navigation's menus are <details>: they open without script. This only closes an
// open menu when another one opens or the user clicks elsewhere, as a menu should.
document.addEventListener("click", (event) => {
  for (const menu of document.querySelectorAll(".nav-group[open]")) {
    if (!menu.contains(event.target)) menu.removeAttribute("open");
  }
});
