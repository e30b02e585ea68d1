r"""Answer sheets from files and folders: YAML/JSON, LaTeX and CSV, every problem a review entry.

A sheet is what one student handed in: answers (slot -> LaTeX) and chains (slot -> steps).
Reading never parses the LaTeX itself (that happens in a sandboxed worker); it only splits
files into per-slot text. Whatever is wrong with a file becomes a ``Problem`` with a message
a person can act on (file and line where there is one), and the rest of the class is read as
usual. The rules:

* **One bad answer costs that answer only.** An unclosed brace in a LaTeX answer ends at the
  next ``\answer``/``\step``/``\student``; a YAML sheet that does not parse is read entry by
  entry (a syntax error, an alias or deep nesting costs its entry); a CSV quote that is never
  closed costs its row, not the rows after it. A broken step costs its slot's whole chain.
* **A file that cannot be read at all** (binary, too large, not a mapping, ...) is one problem;
  when it names its student (``student: s1``, ``\student{s1}``) that student is still listed,
  every slot showing the reason.
* **Duplicates.** A slot given twice on one sheet (or as both an answer and a chain) is not
  graded. A student's answers may be split over several files (a course system may export one
  CSV per question): they are merged; a slot answered *identically* in two files is graded
  once, a slot answered *differently* is a conflict -- neither version is graded, and the
  conflict is listed in review.csv and in that slot's feedback for a person to decide.
* **Not text.** A null, list, mapping or true/false answer is not graded (named); numbers are
  kept as written (``0.50``, ``1e-3``; a 5000-digit integer is not converted).
* **Display maths.** ``\begin{align}``..., ``\[ \]`` and ``\\`` row breaks become one step each in a
  chain (an answer's rows that continue with ``&= ...`` are joined); ``\label``, ``\tag``,
  ``\nonumber`` and remarks after ``\quad`` are dropped; ``cases`` rows are left alone.
* **Encodings.** UTF-8 (with or without BOM), UTF-16/32 with a BOM; CRLF line ends; anything
  else that is text is read as Windows-1252 with a note.
* **Student ids** must be 1-64 of ``A-Za-z0-9_.@+-`` starting with a letter or digit: they
  name output files, so ``../x``, ``a/b`` or a trailing newline are refused.

Modules (each one idea):

==============  ====================================================================
model           Sheet, Problem, SheetError/MalformedYaml and the shared limits
files           which files are sheets; bytes to text (encodings, binary, size)
structured      YAML/JSON parsed safely (no aliases, bounded nesting, duplicated keys)
yaml_recovery   a YAML sheet that does not parse, read entry by entry
mapping         a parsed mapping into a Sheet, each value checked
entries         one answer or chain onto a sheet (duplicates, step limits)
braces          balanced ``{...}`` groups, bounded
latex           \student, \answer, \step sheets
display         display maths split into rows (one chain step each)
csv_sheets      CSV course exports, a whole class per file
one_file        one file into its sheets, never raising for its content
merge           the class: files read, slots checked, one student's files merged
==============  ====================================================================
"""
from __future__ import annotations

from .model import (MAX_CSV_BYTES, MAX_ENTRIES, MAX_NESTING, MAX_SHEET_BYTES, MAX_STEPS, SHEET_SUFFIXES,
                    STUDENT_ID, MalformedYaml, Problem, Sheet, SheetError)
from .files import sheet_files
from .structured import NUMBER_TAGS, load_structured
from .yaml_recovery import MAX_RECOVERED_PROBLEMS, recover_yaml
from .mapping import sheet_from_mapping
from .braces import MAX_BRACE_DEPTH
from .latex import sheet_from_latex
from .display import ALIGN_ENVS, answer_text, chain_steps, display_rows
from .csv_sheets import sheets_from_csv
from .one_file import read_file
from .merge import read_class

__all__ = ["ALIGN_ENVS", "MAX_BRACE_DEPTH", "MAX_CSV_BYTES", "MAX_ENTRIES", "MAX_NESTING",
           "MAX_RECOVERED_PROBLEMS", "MAX_SHEET_BYTES", "MAX_STEPS", "MalformedYaml", "NUMBER_TAGS",
           "Problem", "SHEET_SUFFIXES", "STUDENT_ID", "Sheet", "SheetError", "answer_text", "chain_steps",
           "display_rows", "load_structured", "read_class", "read_file", "recover_yaml", "sheet_files",
           "sheet_from_latex", "sheet_from_mapping", "sheets_from_csv"]
