#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// A table of text as a PDF document, for `hookctl deliveries export --format pdf`: landscape
// A4 pages with the title, the header row and the page number on each, in a monospaced font so
// that ids line up. libharu (Debian's libhpdf) writes the PDF.

struct _HPDF_Doc_Rec;
struct _HPDF_Dict_Rec;

namespace hookd::hookctl {

class PdfTable {
 public:
  struct Column {
    std::string title;
    // Characters shown; a longer cell is cut and ends in "...". 0 for the one column that
    // takes the width the others leave.
    int width = 0;
  };

  // Rows on a full page.
  static constexpr int kRowsPerPage = 40;

  // INVALID_ARGUMENT when the columns do not fit across the page; INTERNAL when libharu fails.
  static absl::StatusOr<std::unique_ptr<PdfTable>> Create(std::string title,
                                                          std::vector<Column> columns);

  // Adds a row, on a new page when the current one is full. Text outside printable ASCII shows
  // as "?" (the standard PDF fonts have no other characters). INTERNAL when libharu fails.
  absl::Status AddRow(const std::vector<std::string>& cells);

  // Numbers the pages and writes the document. INTERNAL when libharu fails.
  absl::Status Write(std::ostream& out);

  int pages() const { return static_cast<int>(pages_.size()); }

 private:
  PdfTable(std::string title, std::vector<Column> columns);
  absl::Status NewPage();
  // Draws `cells` as the row at height `y` of the current page.
  void DrawCells(const std::vector<std::string>& cells, double y);
  // libharu reports errors through a callback; the first one is kept here.
  static void OnError(unsigned long error, unsigned long detail, void* self);
  absl::Status Check(const char* what);

  const std::string title_;
  std::vector<Column> columns_;
  struct DocDeleter {
    void operator()(_HPDF_Doc_Rec* doc) const;
  };
  std::unique_ptr<_HPDF_Doc_Rec, DocDeleter> doc_;
  std::vector<_HPDF_Dict_Rec*> pages_;  // owned by doc_
  int rows_on_page_ = 0;
  int rows_ = 0;
  unsigned long error_ = 0;
  unsigned long error_detail_ = 0;
};

}  // namespace hookd::hookctl
