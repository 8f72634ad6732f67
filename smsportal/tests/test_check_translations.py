"""The translation gate `make lint` runs: what it must catch in a catalogue."""

from smsportal.management.commands.check_translations import problems_in

CATALOGUE = """# header
#, fuzzy
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"

#: a.py:1
#, fuzzy
#| msgid "Frame added."
msgid "Word added."
msgstr "已添加帧。"

#: templates/staff/words.html:2
#| msgid "Sensitive words saved."
msgid "Sensitive words"
msgstr "敏感词已保存。"

#: b.py:3
msgid "Missing"
msgstr ""

#: c.py:4
#, python-format
msgid ""
"A long text of %(n)s "
"lines"
msgstr ""
"%(n)s 行"
"长文本"

#: d.py:5
msgid "One item"
msgid_plural "Many items"
msgstr[0] ""
"""


def test_fuzzy_unreviewed_and_untranslated_entries_are_reported_and_good_ones_are_not():
    assert problems_in(CATALOGUE) == [
        "fuzzy: Word added.",
        "unreviewed fuzzy match: Sensitive words",
        "untranslated: Missing",
        "untranslated: One item",
    ]
