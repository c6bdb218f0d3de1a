/* The record form's address: offer only the sub-districts of the chosen district.
   Without this script the sub-district select still works, grouped by district
   (targets.forms.SubDistrictSelect marks each option with data-district). */
(function () {
  "use strict";
  function setUp() {
    var district = document.getElementById("id_district");
    var sub = document.getElementById("id_sub_district");
    if (!district || !sub) { return; }
    var groups = Array.prototype.slice.call(sub.querySelectorAll("optgroup"));
    function filter() {
      var chosen = district.value;
      groups.forEach(function (group) {
        var show = false;
        Array.prototype.forEach.call(group.querySelectorAll("option"), function (option) {
          var match = !chosen || option.getAttribute("data-district") === chosen;
          option.hidden = !match;
          option.disabled = !match;
          if (match) { show = true; }
        });
        group.hidden = !show;
      });
      var selected = sub.options[sub.selectedIndex];
      if (selected && selected.disabled) { sub.value = ""; }
    }
    district.addEventListener("change", filter);
    filter();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
