// The subscribe page: wx.config with the signature the server computed, then one wx-open-subscribe per kind.
// WeChat tells the server what was chosen (subscribe_msg_popup_event); this only updates what the page shows.
(function () {
  "use strict";
  var status = document.getElementById("status");
  function say(text) { status.textContent = text; }
  var config = JSON.parse(document.getElementById("wx-config").textContent);
  if (typeof wx === "undefined") {
    say("请在微信里打开本页面。");
    return;
  }
  wx.config({
    debug: false,
    appId: config.appId,
    timestamp: config.timestamp,
    nonceStr: config.nonceStr,
    signature: config.signature,
    jsApiList: config.jsApiList,
    openTagList: config.openTagList
  });
  wx.error(function () { say("页面验证没有通过，请回到公众号发送「通知设置」重新打开。"); });
  Array.prototype.forEach.call(document.querySelectorAll("wx-open-subscribe"), function (tag) {
    var row = tag.parentNode;
    tag.addEventListener("success", function (event) {
      var accepted = false;
      try {
        var details = JSON.parse(event.detail.subscribeDetails || "{}");
        accepted = JSON.parse(details[tag.getAttribute("template")] || "{}").status === "accept";
      } catch (ignored) { accepted = false; }
      var state = row.querySelector(".state");
      state.textContent = accepted ? "已开启" : "未开启";
      state.className = "state " + (accepted ? "on" : "off");
      say(accepted ? "已开启，谢谢！" : "这一项没有开启，需要时可以再点「开启」。");
    });
    tag.addEventListener("error", function (event) {
      var why = (event.detail && event.detail.errMsg) || "未知原因";
      say("暂时没能开启（" + why + "），请稍后再试。");
    });
  });
})();
