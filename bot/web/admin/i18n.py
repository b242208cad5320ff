"""Simplified Chinese for sqladmin's own words (it ships no Chinese catalogue and we run without Babel)."""

from __future__ import annotations

ZH: dict[str, str] = {
    "Actions": "操作",
    "Apply Filter": "筛选",
    "Cancel": "取消",
    "Clear filter": "清除筛选",
    "Close": "关闭",
    "Column": "字段",
    "Delete": "删除",
    "Delete selected items": "删除所选",
    "Done": "完成",
    "Edit": "编辑",
    "Edit %(name)s": "编辑%(name)s",
    "Export": "导出",
    "Filters": "筛选",
    "Go Back": "返回",
    "Invalid credentials.": "用户名或密码不正确（连续输错 5 次将锁定 15 分钟）。",
    "Login": "登录",
    "Login to %(title)s": "登录 %(title)s",
    "Logout": "退出登录",
    "New %(name)s": "新建%(name)s",
    "Password": "密码",
    "Please confirm": "请确认",
    "Refresh list": "刷新",
    "Save": "保存",
    "Save and add another": "保存并继续新建",
    "Save and continue editing": "保存并继续编辑",
    "Save as new": "另存为新记录",
    "Search": "搜索",
    "Select all": "全选",
    "Select item": "选择",
    "Show": "每页",
    "Showing %(start)s to %(end)s of %(count)s items": "第 %(start)s–%(end)s 条，共 %(count)s 条",
    "%(size)s / Page": "每页 %(size)s 条",
    "Username": "用户名",
    "Enter username": "请输入用户名",
    "Value": "值",
    "View": "查看",
    "Yes": "确定",
    "You are not authorized to view these records.": "您无权查看这些记录。",
    "next": "下一页",
    "prev": "上一页",
}
# The save buttons post their (translated) label; sqladmin decides where to go next by the English one.
SAVE_LABELS = {ZH[k]: k for k in ("Save", "Save and add another", "Save and continue editing", "Save as new")}


def gettext(message: str) -> str:
    return ZH.get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)
